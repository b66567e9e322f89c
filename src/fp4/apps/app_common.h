// What the applications share: choosing the prompt language, and sending one user message through a
// TextGenerator to get one completion back.
//
// No system prompt is used: DeepSeek-R1's guidance is to put every instruction in the user turn, and the
// shipped tiny-r1 was trained that way.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fp4/apps/text_generator.h"
#include "fp4/runtime/sampling_params.h"

namespace fp4::apps {

enum class PromptLanguage { kEnglish, kKorean };
enum class LanguageChoice { kAuto, kEnglish, kKorean };

// True when the UTF-8 text holds a Hangul syllable or jamo. Invalid UTF-8 is skipped byte by byte.
bool contains_hangul(std::string_view text);

// "auto", "en"/"english", "ko"/"korean"/"한국어" (case-insensitive). Throws fp4::Error naming `field`
// for anything else.
LanguageChoice parse_language_choice(std::string_view text, std::string_view field = "language");

// kAuto: Korean when `text` contains Hangul, else English.
PromptLanguage resolve_language(LanguageChoice choice, std::string_view text);

// "en" or "ko".
std::string_view language_code(PromptLanguage language);

// One completion of one user message.
struct AppOutput {
  std::string content;        // the answer text (after </think> for a reasoning model)
  std::string reasoning;      // the <think> block's text, empty when the model does not reason
  std::string finish_reason;  // "stop", "length", "cancelled"
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// Moves what every application result reports about its generation (reasoning, finish reason, token
// counts) from `out` into `result`; the answer text itself is the caller's (each result names it).
template <typename Result>
void take_generation_fields(AppOutput& out, Result& result) {
  result.reasoning = std::move(out.reasoning);
  result.finish_reason = std::move(out.finish_reason);
  result.prompt_tokens = out.prompt_tokens;
  result.completion_tokens = out.completion_tokens;
}

// Sends `user_message` as the only chat message with `sampling` (n is forced to 1: every application
// returns one answer). Throws fp4::Error when the generator does, or when it returns no choice.
AppOutput ask(TextGenerator& generator, std::string user_message, runtime::sampling::SamplingRequest sampling);

// Trims ASCII whitespace from both ends.
std::string_view trim_ascii(std::string_view text);

// The answer parsers match labels ("Summary:", "Problem 3.", "- ") with std::regex. libstdc++'s matcher
// recurses once per character it consumes, so a regex run over a long model-written line can overflow
// the stack. Every pattern is therefore matched against a bounded window: labels sit at the start of a
// line, and what follows them is taken from the line itself.
inline constexpr size_t kRegexWindow = 256;

struct RegexMatch {
  size_t position = 0;  // of the match in the text
  size_t length = 0;
  std::vector<std::optional<std::string>> groups;  // [0] the whole match; nullopt: the group did not take part
  bool has(size_t group) const { return group < groups.size() && groups[group].has_value(); }
  const std::string& group(size_t i) const { return *groups.at(i); }
};

// `pattern` matched at the very start of text's first kRegexWindow bytes.
std::optional<RegexMatch> match_at_start(std::string_view text, const std::regex& pattern);
// The first match of `pattern` anywhere in text's first kRegexWindow bytes.
std::optional<RegexMatch> search_window(std::string_view text, const std::regex& pattern);

}  // namespace fp4::apps
