// The Oniguruma → PCRE2 rewrite and the match iteration rules HF relies on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/tokenizer/regex.h"

namespace fp4::tokenizer {
namespace {

std::vector<std::string> all_matches(const Regex& re, std::string_view text) {
  std::vector<MatchSpan> spans;
  re.find_all(text, spans);
  std::vector<std::string> out;
  for (const MatchSpan& s : spans) out.emplace_back(text.substr(s.start, s.end - s.start));
  return out;
}

TEST(Regex, RewritesShorthandsToOnigurumaMeaning) {
  EXPECT_EQ(translate_oniguruma_pattern(R"(\s+(?!\S))"), R"(\p{White_Space}+(?!\P{White_Space}))");
  EXPECT_EQ(translate_oniguruma_pattern(R"([^\s\p{L}])"), R"([^\p{White_Space}\p{L}])");
  EXPECT_EQ(translate_oniguruma_pattern(R"(\h)"), "[0-9a-fA-F]");
  EXPECT_EQ(translate_oniguruma_pattern(R"(\u4E00)"), R"(\x{4E00})");
  EXPECT_EQ(translate_oniguruma_pattern(R"(\\s)"), R"(\\s)");  // an escaped backslash is not \s
  EXPECT_EQ(translate_oniguruma_pattern(R"([]\s])"), R"([]\p{White_Space}])");  // ']' first in a class is literal
}

TEST(Regex, WhiteSpaceIncludesNextLine) {
  const Regex re = Regex::from_oniguruma(R"(\s+)", "test");
  EXPECT_EQ(all_matches(re, "a\u0085\u00a0b"), (std::vector<std::string>{"\u0085\u00a0"}));
}

TEST(Regex, WordCharacterFollowsOniguruma) {
  const Regex re = Regex::from_oniguruma(R"(\w+)", "test");
  // ² is a word character in Oniguruma's Latin-1 table, ⅞ is not; marks and ⓐ (Alphabetic) are.
  EXPECT_EQ(all_matches(re, "x\u00b2 \u215e e\u0301 \u24d0"),
            (std::vector<std::string>{"x\u00b2", "e\u0301", "\u24d0"}));
}

TEST(Regex, UnicodePropertiesAndLookahead) {
  const Regex re = Regex::from_oniguruma(R"(\p{N}{1,3}|\p{L}+|\s+(?!\S)|\s+)", "test");
  EXPECT_EQ(all_matches(re, "abc  12345 한국"),
            (std::vector<std::string>{"abc", " ", " ", "123", "45", " ", "한국"}));
}

TEST(Regex, EmptyMatchesAdvance) {
  const Regex re = Regex::from_oniguruma(R"(\d*)", "test");
  std::vector<MatchSpan> spans;
  re.find_all("a12b", spans);
  // Oniguruma-style iteration: "" at 0, "12" at 1, then the empty match at 3 right after "12" is skipped,
  // and the one at the end is reported.
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].start, 0u);
  EXPECT_EQ(spans[1].start, 1u);
  EXPECT_EQ(spans[1].end, 3u);
  EXPECT_EQ(spans[2].start, 4u);
}

TEST(Regex, LiteralPatternsQuoteEverything) {
  const Regex re = Regex::from_literal(R"(a.b\E*)", "test");
  EXPECT_EQ(all_matches(re, R"(axb a.b\E* a.b\E*)"), (std::vector<std::string>{R"(a.b\E*)", R"(a.b\E*)"}));
}

TEST(Regex, BadPatternIsAClearError) {
  try {
    Regex::from_oniguruma("(unclosed", "pre_tokenizer.pattern.Regex");
    FAIL() << "expected an error";
  } catch (const fp4::Error& e) {
    EXPECT_NE(std::string(e.what()).find("pre_tokenizer.pattern.Regex"), std::string::npos) << e.what();
  }
}

TEST(Regex, LongInputsDoNotExhaustTheStack) {
  const Regex re = Regex::from_oniguruma(R"(\s+(?!\S)|\s+)", "test");
  const std::string spaces(4 << 20, ' ');
  EXPECT_EQ(all_matches(re, spaces + "x").size(), 2u);  // "    ...   " minus the last space, then " "
}

}  // namespace
}  // namespace fp4::tokenizer
