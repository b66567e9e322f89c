#include "fp4/apps/app_common.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

bool is_hangul(char32_t cp) {
  return (cp >= 0xAC00 && cp <= 0xD7A3) ||  // Hangul Syllables
         (cp >= 0x1100 && cp <= 0x11FF) ||  // Hangul Jamo
         (cp >= 0x3130 && cp <= 0x318F) ||  // Hangul Compatibility Jamo
         (cp >= 0xA960 && cp <= 0xA97F) ||  // Hangul Jamo Extended-A
         (cp >= 0xD7B0 && cp <= 0xD7FF);    // Hangul Jamo Extended-B
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

bool contains_hangul(std::string_view text) {
  // Every Hangul block lies in U+1100..U+D7FF: three-byte sequences 1110xxxx 10xxxxxx 10xxxxxx.
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if ((b0 & 0xF0) != 0xE0) continue;
    const auto b1 = static_cast<unsigned char>(text[i + 1]);
    const auto b2 = static_cast<unsigned char>(text[i + 2]);
    if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) continue;
    const char32_t cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(b1 & 0x3F) << 6) | char32_t(b2 & 0x3F);
    if (is_hangul(cp)) return true;
    i += 2;
  }
  return false;
}

LanguageChoice parse_language_choice(std::string_view text, std::string_view field) {
  const std::string t = lower_ascii(trim_ascii(text));
  if (t == "auto" || t.empty()) return LanguageChoice::kAuto;
  if (t == "en" || t == "english") return LanguageChoice::kEnglish;
  if (t == "ko" || t == "korean" || t == "kr" || t == "한국어") return LanguageChoice::kKorean;
  fail("\"{}\" is \"{}\", expected \"auto\", \"en\" or \"ko\"", field, text);
}

PromptLanguage resolve_language(LanguageChoice choice, std::string_view text) {
  switch (choice) {
    case LanguageChoice::kEnglish:
      return PromptLanguage::kEnglish;
    case LanguageChoice::kKorean:
      return PromptLanguage::kKorean;
    case LanguageChoice::kAuto:
      break;
  }
  return contains_hangul(text) ? PromptLanguage::kKorean : PromptLanguage::kEnglish;
}

std::string_view language_code(PromptLanguage language) {
  return language == PromptLanguage::kKorean ? "ko" : "en";
}

AppOutput ask(TextGenerator& generator, std::string user_message, runtime::sampling::SamplingRequest sampling) {
  GenerationRequest request;
  request.messages.push_back({"user", std::move(user_message)});
  sampling.n = 1;
  request.sampling = std::move(sampling);
  GenerationResponse response = generator.generate(request);
  FP4_CHECK(!response.choices.empty(), "generator {} returned no completion", generator.model_name());
  GeneratedText& choice = response.choices.front();
  AppOutput out;
  out.content = std::move(choice.content);
  out.reasoning = std::move(choice.reasoning);
  out.finish_reason = std::move(choice.finish_reason);
  out.prompt_tokens = response.prompt_tokens;
  out.completion_tokens = response.completion_tokens;
  return out;
}

namespace {

std::optional<RegexMatch> run_regex(std::string_view text, const std::regex& pattern,
                                    std::regex_constants::match_flag_type flags) {
  // Cutting the window may split a UTF-8 sequence; patterns only compare bytes, so that is harmless.
  const std::string window(text.substr(0, kRegexWindow));
  std::smatch m;
  if (!std::regex_search(window, m, pattern, flags)) return std::nullopt;
  RegexMatch out;
  out.position = static_cast<size_t>(m.position(0));
  out.length = static_cast<size_t>(m.length(0));
  for (size_t i = 0; i < m.size(); ++i) {
    out.groups.push_back(m[i].matched ? std::optional<std::string>(m[i].str()) : std::nullopt);
  }
  return out;
}

}  // namespace

std::optional<RegexMatch> match_at_start(std::string_view text, const std::regex& pattern) {
  return run_regex(text, pattern, std::regex_constants::match_continuous);
}

std::optional<RegexMatch> search_window(std::string_view text, const std::regex& pattern) {
  return run_regex(text, pattern, std::regex_constants::match_default);
}

std::string_view trim_ascii(std::string_view text) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace fp4::apps
