#include "fp4/eval/scoring.h"

#include <fmt/format.h>

#include "fp4/apps/boxed_answer.h"
#include "fp4/apps/code_blocks.h"
#include "fp4/eval/choice_answer.h"
#include "fp4/eval/math_equiv.h"

namespace fp4::eval {
namespace {

bool defines_function(std::string_view code, std::string_view name) {
  const std::string def = fmt::format("def {}(", name);
  size_t pos = 0;
  while ((pos = code.find(def, pos)) != std::string_view::npos) {
    // At the start of a line (any indentation) or after "async ".
    size_t b = pos;
    while (b > 0 && (code[b - 1] == ' ' || code[b - 1] == '\t')) --b;
    if (b == 0 || code[b - 1] == '\n' || code.substr(0, pos).ends_with("async ")) return true;
    pos += def.size();
  }
  return false;
}

// The prompt's text before the entry point's `def` line: imports and helper functions the tests need.
std::string prompt_preamble(const Problem& problem) {
  const std::string def = fmt::format("def {}(", problem.entry_point);
  const size_t at = problem.question.find(def);
  if (at == std::string::npos) return "";
  const size_t line_start = problem.question.rfind('\n', at);
  return line_start == std::string::npos ? "" : problem.question.substr(0, line_start + 1);
}

std::string tail(std::string_view s, size_t n) { return std::string(s.size() > n ? s.substr(s.size() - n) : s); }

}  // namespace

std::string build_prompt(SuiteType type, const Problem& problem) {
  if (is_math(type)) {
    return problem.question + "\nPlease reason step by step, and put your final answer within \\boxed{}.";
  }
  if (is_multiple_choice(type)) {
    std::string s =
        "Answer the following multiple choice question. Think step by step, then put the letter of the correct "
        "option within \\boxed{}.\n\nQuestion: " +
        problem.question + "\nOptions:\n";
    for (size_t i = 0; i < problem.options.size(); ++i) {
      s += fmt::format("{}. {}\n", static_cast<char>('A' + i), problem.options[i]);
    }
    s.pop_back();
    return s;
  }
  return "Complete the following Python function. Reply with the complete function (including the imports "
         "it needs) in one ```python code block.\n\n```python\n" +
         problem.question + "```";
}

std::string humaneval_program(const Problem& problem, std::string_view completion) {
  const auto blocks = apps::extract_code_blocks(completion);
  std::string code;
  bool found = false;
  for (auto it = blocks.rbegin(); it != blocks.rend() && !found; ++it) {
    const std::string lang = apps::canonical_language(it->language);
    if ((lang == "python" || lang.empty()) && defines_function(it->code, problem.entry_point)) {
      code = it->code;
      found = true;
    }
  }
  if (!found) {
    for (auto it = blocks.rbegin(); it != blocks.rend() && !found; ++it) {
      const std::string lang = apps::canonical_language(it->language);
      if (lang == "python" || lang.empty()) {
        code = it->code;
        found = true;
      }
    }
  }
  if (!found) code = std::string(completion);
  std::string program;
  if (defines_function(code, problem.entry_point)) {
    program = prompt_preamble(problem) + code;
  } else {
    program = problem.question + code;  // the completion is the function's body
  }
  program += "\n\n" + problem.test + "\n\ncheck(" + problem.entry_point + ")\n";
  return program;
}

Score score_completion(SuiteType type, const Problem& problem, std::string_view completion,
                       const SandboxLimits& sandbox_limits) {
  Score s;
  if (is_math(type)) {
    if (auto boxed = apps::last_boxed_answer(completion)) {
      s.extracted = *boxed;
      s.correct = math_answers_equal(problem.answer, *boxed);
    }
    return s;
  }
  if (is_multiple_choice(type)) {
    if (auto letter = extract_choice_letter(completion, static_cast<int>(problem.options.size()))) {
      s.extracted = std::string(1, *letter);
      s.correct = s.extracted == problem.answer;
    }
    return s;
  }
  const SandboxResult r = run_python_sandboxed(humaneval_program(problem, completion), sandbox_limits);
  s.extracted = std::string(sandbox_status_name(r.status));
  s.correct = r.status == SandboxStatus::kPassed;
  if (!s.correct) s.detail = tail(r.output, 400);
  return s;
}

std::string reference_completion(SuiteType type, const Problem& problem) {
  if (is_math(type)) return "The answer is \\boxed{" + problem.answer + "}.";
  if (is_multiple_choice(type)) return "The answer is (" + problem.answer + ").";
  return "```python\n" + problem.question + problem.canonical_solution + "\n```";
}

}  // namespace fp4::eval
