// What the model is asked for each kind of problem, and how its answer is scored.
//
// Prompts (one user message, no system prompt, as DeepSeek evaluates R1):
//   math (MATH-500, AIME): "{problem}\nPlease reason step by step, and put your final answer within \boxed{}."
//   multiple choice (MMLU-Pro, GPQA): "Answer the following multiple choice question. Think step by step,
//     then put the letter of the correct option within \boxed{}.\n\nQuestion: {q}\nOptions:\nA. {o1}\n..."
//   HumanEval: the function's prompt in a ```python block, asking for the completed function in one.
//
// Scoring (on the answer text, after the </think> block):
//   math: the last \boxed{} (fp4/apps/boxed_answer.h) equivalent to the reference (math_equiv.h);
//   multiple choice: the letter extract_choice_letter finds equals the reference letter;
//   HumanEval: the program (the prompt's code up to the function, the model's function, the tests and
//     check(entry_point)) exits 0 in the sandbox.
#pragma once

#include <string>
#include <string_view>

#include "fp4/eval/sandbox.h"
#include "fp4/eval/suite.h"

namespace fp4::eval {

struct Score {
  bool correct = false;
  std::string extracted;  // the boxed answer / the letter / the sandbox status; "" when nothing was found
  std::string detail;     // the sandbox output's tail for a failed program, else ""
};

std::string build_prompt(SuiteType type, const Problem& problem);

// The Python program that checks a HumanEval completion. The code is the ```python block that defines
// the entry point (else the last python block, else the text itself); when it does not define the entry
// point it is taken as the function's body and appended to the prompt (the original HumanEval protocol).
std::string humaneval_program(const Problem& problem, std::string_view completion);

Score score_completion(SuiteType type, const Problem& problem, std::string_view completion,
                       const SandboxLimits& sandbox_limits = {});

// The reference answer written as a model would write it (for --self-check: every problem must score
// correct on its own reference; for HumanEval this runs the canonical solution in the sandbox).
std::string reference_completion(SuiteType type, const Problem& problem);

}  // namespace fp4::eval
