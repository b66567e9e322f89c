// Coding assistant: writes code for a task in a given language (the code is read back out of the answer's
// fenced blocks), and reviews code with chosen focus areas (the review is parsed into a summary and a list
// of issues when the model follows the requested format or answers in JSON; the raw text is always kept).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/apps/app_common.h"
#include "fp4/apps/code_blocks.h"
#include "fp4/apps/text_generator.h"
#include "fp4/runtime/sampling_params.h"

namespace fp4::apps {

struct CodeGenerationOptions {
  LanguageChoice prompt_language = LanguageChoice::kAuto;  // of the instructions; auto follows the task
  runtime::sampling::SamplingRequest sampling;
};

struct CodeGeneration {
  std::string task;
  std::string language;       // canonical ("python", "cpp", ...)
  std::string code;           // select_code(blocks, language); empty when the answer has no fenced block
  std::vector<CodeBlock> blocks;
  std::string text;           // the whole answer
  std::string reasoning;
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// What a review looks at. Names as the API spells them: "correctness", "security", "performance",
// "style", "readability", "maintainability", "error_handling", "concurrency", "testing".
const std::vector<std::string_view>& review_focus_names();
// Canonical focus name ("Error-Handling" → "error_handling"), or nullopt for an unknown one.
std::optional<std::string> canonical_focus(std::string_view name);

struct ReviewIssue {
  std::string severity;              // "high", "medium", "low", or empty when the model gave none
  std::string category;              // a focus name when one was recognised, else empty
  std::optional<int64_t> line;       // the first line number the issue cites
  std::string description;
  std::string suggestion;
};

struct CodeReviewOptions {
  std::string language;              // of the code; empty: not named in the prompt
  std::vector<std::string> focus;    // canonical focus names; empty: correctness, security, performance, style
  LanguageChoice prompt_language = LanguageChoice::kAuto;
  runtime::sampling::SamplingRequest sampling;
};

struct CodeReview {
  std::vector<std::string> focus;
  std::string summary;
  std::vector<ReviewIssue> issues;
  bool issues_parsed = false;  // the answer had an issue list (or "none") in the requested format or JSON
  std::string text;            // the whole answer
  std::string reasoning;
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

std::string code_generation_prompt(std::string_view task, std::string_view language, PromptLanguage prompt_language);
std::string code_review_prompt(std::string_view code, const CodeReviewOptions& options, PromptLanguage prompt_language);

// Parses a review answer into summary / issues / issues_parsed (fields of `review` only).
void parse_review(std::string_view text, CodeReview& review);

class CodeAssistant {
 public:
  explicit CodeAssistant(TextGenerator& generator) : generator_(generator) {}
  // Throws fp4::Error for an empty task or language, or when the generator fails.
  CodeGeneration generate(std::string_view task, std::string_view language, const CodeGenerationOptions& options = {});
  // Throws fp4::Error for empty code or an unknown focus area, or when the generator fails.
  CodeReview review(std::string_view code, const CodeReviewOptions& options = {});

 private:
  TextGenerator& generator_;
};

}  // namespace fp4::apps
