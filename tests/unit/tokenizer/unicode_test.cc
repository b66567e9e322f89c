// Normalization forms and lowercase mapping on hand-picked cases; the expected strings are Python's
// unicodedata.normalize for the same Unicode version. (The Python reference tests compare every code point.)
#include <gtest/gtest.h>

#include <string>

#include "fp4/tokenizer/unicode.h"

namespace fp4::tokenizer {
namespace {

struct Case {
  const char* input;
  const char* nfc;
  const char* nfd;
  const char* nfkc;
  const char* nfkd;
};

const Case kCases[] = {
    {"e\u0301", "\u00e9", "e\u0301", "\u00e9", "e\u0301"},
    {"\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8"},  // conjoining jamo
    {"a\u0301\u0323", "\u1ea1\u0301", "a\u0323\u0301", "\u1ea1\u0301", "a\u0323\u0301"},  // reordering by class
    {"\u1e0b\u0323", "\u1e0d\u0307", "d\u0323\u0307", "\u1e0d\u0307", "d\u0323\u0307"},
    {"\ufb01", "\ufb01", "\ufb01", "fi", "fi"},
    {"\u2460", "\u2460", "\u2460", "1", "1"},
    {"\uff23\uff41\uff46\u00e9", "\uff23\uff41\uff46\u00e9", "\uff23\uff41\uff46e\u0301", "Caf\u00e9", "Cafe\u0301"},
    {"\u212b", "\u00c5", "A\u030a", "\u00c5", "A\u030a"},              // singleton decomposition
    {"\u0958", "\u0915\u093c", "\u0915\u093c", "\u0915\u093c", "\u0915\u093c"},  // composition exclusion
    {"\u00c5\u0301", "\u01fa", "A\u030a\u0301", "\u01fa", "A\u030a\u0301"},
    {"\ud55c\uad6d\uc5b4", "\ud55c\uad6d\uc5b4", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165", "\ud55c\uad6d\uc5b4",
     "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"},
    {"q\u0307\u0323", "q\u0323\u0307", "q\u0323\u0307", "q\u0323\u0307", "q\u0323\u0307"},
    {"\u0344", "\u0308\u0301", "\u0308\u0301", "\u0308\u0301", "\u0308\u0301"},  // non-starter decomposition
    {"\u01c5", "\u01c5", "\u01c5", "D\u017e", "Dz\u030c"},
    {"\uac00\u11a8", "\uac01", "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8"},  // LV syllable + T
    {"plain ascii", "plain ascii", "plain ascii", "plain ascii", "plain ascii"},
};

TEST(Unicode, NormalFormsMatchPython) {
  for (const Case& c : kCases) {
    EXPECT_EQ(normalize_unicode(c.input, NormalForm::kNfc), c.nfc) << c.input;
    EXPECT_EQ(normalize_unicode(c.input, NormalForm::kNfd), c.nfd) << c.input;
    EXPECT_EQ(normalize_unicode(c.input, NormalForm::kNfkc), c.nfkc) << c.input;
    EXPECT_EQ(normalize_unicode(c.input, NormalForm::kNfkd), c.nfkd) << c.input;
  }
}

TEST(Unicode, NormalizationIsIdempotent) {
  for (const Case& c : kCases) {
    for (NormalForm form : {NormalForm::kNfc, NormalForm::kNfd, NormalForm::kNfkc, NormalForm::kNfkd}) {
      const std::string once = normalize_unicode(c.input, form);
      EXPECT_EQ(normalize_unicode(once, form), once) << c.input;
    }
  }
}

TEST(Unicode, LowercaseIsPerCodePointWithFullMappings) {
  EXPECT_EQ(to_lowercase("HeLLo"), "hello");
  EXPECT_EQ(to_lowercase("\u0130"), "i\u0307");                 // İ → i + combining dot (SpecialCasing)
  EXPECT_EQ(to_lowercase("\u03a3A\u03a3"), "\u03c3a\u03c3");  // no final-sigma rule, like Rust's char::to_lowercase
  EXPECT_EQ(to_lowercase("\u00c9COLE \u0411"), "\u00e9cole \u0431");
  EXPECT_EQ(to_lowercase("\u4e2d\u6587"), "\u4e2d\u6587");
}

TEST(Unicode, WhiteSpaceIsTheUnicodeProperty) {
  for (char32_t cp : {U'\t', U'\n', U' ', U'\u0085', U'\u00a0', U'\u1680', U'\u2003', U'\u2028', U'\u3000'}) {
    EXPECT_TRUE(is_white_space(cp)) << static_cast<unsigned>(cp);
  }
  for (char32_t cp : {U'a', U'\u200b', U'\ufeff', U'\u180e', U'_'}) EXPECT_FALSE(is_white_space(cp)) << static_cast<unsigned>(cp);
}

}  // namespace
}  // namespace fp4::tokenizer
