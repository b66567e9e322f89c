// Regular expressions for tokenizer.json patterns, run by PCRE2 (UTF + UCP, JIT-compiled).
//
// Hugging Face tokenizers runs these patterns with Oniguruma (Ruby syntax). The two engines agree on
// \p{L}, \p{N}, lookaheads and the usual constructs; where their shorthands differ the pattern is
// rewritten before compiling so that the meaning is Oniguruma's:
//   \s \S  → the White_Space property (PCRE2's UCP \s leaves out U+0085),
//   \w \W  → Alphabetic, marks, decimal digits, connector punctuation and ² ³ ¹ ¼ ½ ¾ (Oniguruma's word),
//   \h \H  → hexadecimal digit (Oniguruma) rather than horizontal space (PCRE2),
//   \uHHHH → \x{HHHH},
//   ^ $    → line anchors (Ruby syntax), through PCRE2_MULTILINE.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::tokenizer {

struct MatchSpan {
  std::size_t start, end;  // byte offsets into the searched text
};

class Regex {
 public:
  // Compiles an Oniguruma-syntax pattern; `what` names the pattern's place for error messages
  // (e.g. "pre_tokenizer.pretokenizers[0].pattern.Regex"). Throws fp4::Error on a bad pattern.
  static Regex from_oniguruma(std::string_view pattern, std::string_view what);
  // A pattern that matches `text` literally.
  static Regex from_literal(std::string_view text, std::string_view what);

  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // Every match, left to right, without overlap. An empty match right where the previous match ended
  // is skipped (Oniguruma's find_iter does the same), so the iteration always advances.
  void find_all(std::string_view text, std::vector<MatchSpan>& matches) const;

  // Whether the pattern matches at exactly `pos` (anchored there).
  bool matches_at(std::string_view text, std::size_t pos) const;

  const std::string& pattern() const { return source_; }

  struct Compiled;  // the PCRE2 code (implementation detail, defined in regex.cc)

 private:
  Regex(std::string source, std::unique_ptr<Compiled> compiled);
  std::string source_;
  std::unique_ptr<Compiled> compiled_;
};

// Rust regex's Unicode \w (Alphabetic, marks, decimal digits, connector punctuation, joiners), which HF
// uses for single_word added tokens and, in \w+|[^\w\s]+, for the Whitespace pre-tokenizer.
inline constexpr std::string_view kRustWordChar = R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])";
inline constexpr std::string_view kRustWordsOrSymbols =
    R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\s]+)";

// The Oniguruma → PCRE2 rewrite described above (exposed for tests).
std::string translate_oniguruma_pattern(std::string_view pattern);

}  // namespace fp4::tokenizer
