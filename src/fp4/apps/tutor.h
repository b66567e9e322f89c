// Tutor: explains a concept at a chosen level, and writes practice problems that are parsed into
// {problem, solution, answer}.
//
// The problems are requested in a fixed format ("Problem 1:" / "Solution:" / "Answer: \boxed{}", or the
// Korean "문제 1:" / "풀이:" / "답:"), but the parser does not rely on it: it also reads Markdown headings
// ("### Problem 2", "**문제 3.**", "Exercise 4)"), bold labels ("**Answer:**"), answers given only as a
// \boxed{} inside the solution, and, when no problem heading exists at all, a plain numbered list.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fp4/apps/app_common.h"
#include "fp4/apps/text_generator.h"
#include "fp4/runtime/sampling_params.h"

namespace fp4::apps {

enum class TutorLevel { kBeginner, kIntermediate, kAdvanced };

// "beginner", "intermediate", "advanced" (also "basic"/"easy", "medium", "expert"/"hard"; case-insensitive).
// Throws fp4::Error naming `field` for anything else.
TutorLevel parse_tutor_level(std::string_view text, std::string_view field = "level");
std::string_view tutor_level_name(TutorLevel level);

inline constexpr int kMaxPracticeProblems = 10;

struct TutorOptions {
  TutorLevel level = TutorLevel::kIntermediate;
  LanguageChoice language = LanguageChoice::kAuto;  // auto: Korean when the concept/topic has Hangul
  runtime::sampling::SamplingRequest sampling;
};

struct TutorExplanation {
  std::string concept_name;
  TutorLevel level = TutorLevel::kIntermediate;
  PromptLanguage language = PromptLanguage::kEnglish;
  std::string explanation;
  std::string reasoning;
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

struct PracticeProblem {
  std::string problem;
  std::string solution;  // empty when the model gave none
  std::string answer;    // the last \boxed{} of the problem's section, else the "Answer:" text
};

struct PracticeSet {
  std::string topic;
  TutorLevel level = TutorLevel::kIntermediate;
  PromptLanguage language = PromptLanguage::kEnglish;
  int requested = 0;
  std::vector<PracticeProblem> problems;  // as parsed; may hold fewer (or more) than requested
  std::string text;                       // the whole answer
  std::string reasoning;
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

std::string explanation_prompt(std::string_view concept_name, TutorLevel level, PromptLanguage language);
std::string practice_prompt(std::string_view topic, int count, TutorLevel level, PromptLanguage language);

// Splits a model's answer into practice problems (see the file comment for what it accepts).
std::vector<PracticeProblem> parse_practice_problems(std::string_view text);

class Tutor {
 public:
  explicit Tutor(TextGenerator& generator) : generator_(generator) {}
  // Throws fp4::Error for an empty concept, or when the generator fails.
  TutorExplanation explain(std::string_view concept_name, const TutorOptions& options = {});
  // Throws fp4::Error for an empty topic or a count outside [1, kMaxPracticeProblems].
  PracticeSet practice_problems(std::string_view topic, int count, const TutorOptions& options = {});

 private:
  TextGenerator& generator_;
};

}  // namespace fp4::apps
