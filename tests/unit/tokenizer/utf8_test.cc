// UTF-8 validation, the replacement rule (checked against what Python's bytes.decode(errors="replace")
// gives for the same bytes) and the complete-prefix rule the streaming detokenizer relies on.
#include <gtest/gtest.h>

#include <string>

#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, FindsFirstInvalidByte) {
  EXPECT_EQ(find_invalid_utf8("plain ascii text that is long enough"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("한국어 😀 é"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8(std::string("abcdefgh\xFF", 9)), 8u);
  EXPECT_EQ(find_invalid_utf8("\xC0\x80"), 0u);          // overlong NUL
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);      // surrogate U+D800
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("ab\xE4\xB8"), 2u);        // truncated at the end
}

// Expected strings are Python's b"...".decode("utf-8", errors="replace").
TEST(Utf8, ReplacesMaximalSubpartsLikePython) {
  EXPECT_EQ(to_valid_utf8("a\xFF" "b"), "a" + kFffd + "b");
  EXPECT_EQ(to_valid_utf8("\xE4\xB8"), kFffd);                      // one truncated sequence: one U+FFFD
  EXPECT_EQ(to_valid_utf8("\xF0\x80\x80"), kFffd + kFffd + kFffd);  // F0 80 is never valid: three
  EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(to_valid_utf8("\xF0\x9F\x98" "x"), kFffd + "x");
  EXPECT_EQ(to_valid_utf8("ok \xE4\xB8\xAD"), "ok 中");
}

TEST(Utf8, CompletePrefixStopsBeforeACutCharacter) {
  const std::string grin = "\xF0\x9F\x98\x80";  // 😀
  EXPECT_EQ(complete_utf8_prefix("ab" + grin), 6u);
  EXPECT_EQ(complete_utf8_prefix("ab" + grin.substr(0, 3)), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab" + grin.substr(0, 1)), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xFF"), 3u);  // invalid, not incomplete: nothing to wait for
}

TEST(Utf8, DecodesAndEncodesCodePoints) {
  const std::string text = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";
  std::size_t pos = 0;
  EXPECT_EQ(next_code_point(text, pos), U'a');
  EXPECT_EQ(next_code_point(text, pos), U'\u00E9');
  EXPECT_EQ(next_code_point(text, pos), U'\u4E2D');
  EXPECT_EQ(next_code_point(text, pos), U'\U0001F600');
  EXPECT_EQ(pos, text.size());
  std::size_t back = text.size();
  EXPECT_EQ(previous_code_point(text, back), U'\U0001F600');
  EXPECT_EQ(back, 6u);
  std::string out;
  for (char32_t cp : {U'a', U'\u00E9', U'\u4E2D', U'\U0001F600'}) append_utf8(out, cp);
  EXPECT_EQ(out, text);
}

}  // namespace
}  // namespace fp4::tokenizer
