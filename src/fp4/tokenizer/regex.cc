#include "fp4/tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "fp4/base/error.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {
namespace {

constexpr std::string_view kWhiteSpace = "\\p{White_Space}";
constexpr std::string_view kNotWhiteSpace = "\\P{White_Space}";
// Oniguruma's Unicode \w: Alphabetic, marks, decimal digits and connector punctuation, plus the Latin-1
// characters its single-byte table counts as word characters (² ³ ¹ ¼ ½ ¾; ª µ º are Alphabetic anyway).
// Checked code point by code point against HF tokenizers over U+0020..U+2FFFF.
constexpr std::string_view kWordClassBody = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}";
constexpr std::string_view kHexClassBody = "0-9a-fA-F";

// Per-thread match state: match data, and a JIT stack big enough for lookaheads over long inputs
// (a 10 MB run of spaces must not hit the 32 KiB default).
struct ThreadMatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  ThreadMatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~ThreadMatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState state;
  return state;
}

std::string error_text(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

struct Regex::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Compiled() { pcre2_code_free(code); }
};

std::string translate_oniguruma_pattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  bool in_class = false;
  std::size_t class_start = 0;  // position in `pattern` just after '[' or '[^'
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      ++i;
      switch (e) {
        case 's':
          out += kWhiteSpace;
          continue;
        case 'S':
          out += kNotWhiteSpace;
          continue;
        case 'w':
          if (in_class) {
            out += kWordClassBody;
          } else {
            out.append("[").append(kWordClassBody).append("]");
          }
          continue;
        case 'W':
          if (!in_class) {
            out.append("[^").append(kWordClassBody).append("]");
            continue;
          }
          break;  // a negated class inside a class has no PCRE2 spelling: keep PCRE2's \W
        case 'h':
          if (in_class) {
            out.append(kHexClassBody);
          } else {
            out.append("[").append(kHexClassBody).append("]");
          }
          continue;
        case 'H':
          if (!in_class) {
            out.append("[^").append(kHexClassBody).append("]");
            continue;
          }
          break;
        case 'u':
          if (i + 4 < pattern.size()) {
            const std::string_view hex = pattern.substr(i + 1, 4);
            if (hex.size() == 4 && hex.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos) {
              out.append("\\x{").append(hex).append("}");
              i += 4;
              continue;
            }
          }
          break;
        default:
          break;
      }
      out.push_back('\\');
      out.push_back(e);
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
        out.push_back('^');
        ++i;
      }
      class_start = i + 1;
      continue;
    }
    if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      // POSIX class such as [:alpha:]: copy through to its closing ":]".
      const std::size_t close = pattern.find(":]", i + 2);
      if (close != std::string_view::npos) {
        out.append(pattern.substr(i, close + 2 - i));
        i = close + 1;
        continue;
      }
    }
    if (in_class && c == ']' && i != class_start) in_class = false;
    out.push_back(c);
  }
  return out;
}

Regex::Regex(std::string source, std::unique_ptr<Compiled> compiled)
    : source_(std::move(source)), compiled_(std::move(compiled)) {}
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

Regex Regex::from_oniguruma(std::string_view pattern, std::string_view what) {
  const std::string translated = translate_oniguruma_pattern(pattern);
  auto compiled = std::make_unique<Compiled>();
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error_code, &error_offset, nullptr);
  if (compiled->code == nullptr) {
    fail("{}: cannot compile regex {:?}: {} (at offset {} of the rewritten pattern {:?})", what,
         std::string(pattern), error_text(error_code), error_offset, translated);
  }
  compiled->jit = pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE) == 0;
  return Regex(std::string(pattern), std::move(compiled));
}

Regex Regex::from_literal(std::string_view text, std::string_view what) {
  std::string quoted = "\\Q";
  for (std::size_t i = 0; i < text.size(); ++i) {
    // "\E" inside the literal would end the quoting early: split it out.
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'E') {
      quoted += "\\E\\\\\\Q";
      continue;
    }
    quoted.push_back(text[i]);
  }
  quoted += "\\E";
  auto compiled = std::make_unique<Compiled>();
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(quoted.data()), quoted.size(), PCRE2_UTF,
                                 &error_code, &error_offset, nullptr);
  if (compiled->code == nullptr) fail("{}: cannot use {:?} as a literal pattern: {}", what, std::string(text), error_text(error_code));
  compiled->jit = pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE) == 0;
  return Regex(std::string(text), std::move(compiled));
}

namespace {

// One search from `start`; returns false when there is no match. Inputs are valid UTF-8, so the
// per-call UTF check is skipped.
bool search(const Regex::Compiled& re, std::string_view text, std::size_t start, std::uint32_t options,
            MatchSpan& span) {
  ThreadMatchState& state = thread_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const bool use_jit = re.jit && (options & PCRE2_ANCHORED) == 0;  // JIT code is not anchored per call
  const int rc = use_jit ? pcre2_jit_match(re.code, subject, text.size(), start, options, state.data, state.context)
                        : pcre2_match(re.code, subject, text.size(), start, options | PCRE2_NO_UTF_CHECK,
                                      state.data, state.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail("regex search failed: {}", error_text(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
  span = {ovector[0], ovector[1]};
  return true;
}

}  // namespace

void Regex::find_all(std::string_view text, std::vector<MatchSpan>& matches) const {
  std::size_t search_from = 0;
  bool have_previous = false;
  std::size_t previous_end = 0;
  while (search_from <= text.size()) {
    MatchSpan span{};
    if (!search(*compiled_, text, search_from, 0, span)) break;
    if (span.start == span.end && have_previous && previous_end == span.end) {
      search_from += search_from < text.size() ? utf8_sequence_length(static_cast<unsigned char>(text[search_from])) : 1;
      continue;
    }
    search_from = span.end;
    previous_end = span.end;
    have_previous = true;
    matches.push_back(span);
  }
}

bool Regex::matches_at(std::string_view text, std::size_t pos) const {
  MatchSpan span{};
  return search(*compiled_, text, pos, PCRE2_ANCHORED, span);
}

}  // namespace fp4::tokenizer
