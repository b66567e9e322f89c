// Math solver: asks the model to solve a problem step by step and to put the final answer in \boxed{},
// then reads the answer back.
//
// The prompts are the ones DeepSeek recommends for R1 on math (and the ones tiny-r1 was trained on):
//   English: "{problem}\nPlease reason step by step, and put your final answer within \boxed{}."
//   Korean:  "다음 문제를 차근차근 풀고, 최종 답을 \boxed{} 안에 적어 주세요.\n\n{problem}"
// The language follows the problem (Hangul → Korean) unless the caller picks one.
#pragma once

#include <string>
#include <string_view>

#include "fp4/apps/app_common.h"
#include "fp4/apps/text_generator.h"
#include "fp4/runtime/sampling_params.h"

namespace fp4::apps {

struct MathSolveOptions {
  LanguageChoice language = LanguageChoice::kAuto;
  runtime::sampling::SamplingRequest sampling;  // unset fields: the model's defaults
};

struct MathSolution {
  std::string problem;
  PromptLanguage language = PromptLanguage::kEnglish;
  std::string full_solution;  // the model's answer text (after its reasoning block)
  std::string reasoning;      // the reasoning block (empty for a model that does not reason)
  // The last \boxed{} of the answer text; when the answer text has none (a generation cut off while still
  // reasoning), the last one of the reasoning, with answer_from_reasoning set. Without any box: the value
  // after an "answer is" / "Answer:" / "답:" / "답은" phrase when one exists, else empty.
  std::string final_answer;
  bool has_boxed_answer = false;
  bool answer_from_reasoning = false;
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// The user message sent for `problem`.
std::string math_prompt(std::string_view problem, PromptLanguage language);

// Reads the final answer out of a solution (see MathSolution::final_answer).
void extract_math_answer(MathSolution& solution);

// An answer value without its decoration: Markdown emphasis, `$` and backticks around it, a final period,
// and a Korean sentence ending ("**7입니다.**" → "7").
std::string clean_answer_text(std::string_view value);

// The value after the last answer phrase ("the answer is 5." → "5"), or empty when there is none.
std::string answer_from_phrase(std::string_view text);

class MathSolver {
 public:
  explicit MathSolver(TextGenerator& generator) : generator_(generator) {}
  // Throws fp4::Error for an empty problem or when the generator fails.
  MathSolution solve(std::string_view problem, const MathSolveOptions& options = {});

 private:
  TextGenerator& generator_;
};

}  // namespace fp4::apps
