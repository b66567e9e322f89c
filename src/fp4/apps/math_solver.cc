#include "fp4/apps/math_solver.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "fp4/apps/boxed_answer.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

constexpr std::string_view kEnglishInstruction = "Please reason step by step, and put your final answer within \\boxed{}.";
constexpr std::string_view kKoreanInstruction = "다음 문제를 차근차근 풀고, 최종 답을 \\boxed{} 안에 적어 주세요.";

// Phrases that introduce a final answer, searched case-insensitively (ASCII) from the end.
constexpr std::array<std::string_view, 9> kAnswerPhrases = {
    "final answer is", "final answer:", "answer is", "answer:", "정답은", "정답:", "답은", "답:", "결과는",
};

// Korean sentence endings that follow the value ("7입니다." → "7").
constexpr std::array<std::string_view, 4> kKoreanEndings = {"입니다", "이에요", "예요", "이다"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string clean_answer_text(std::string_view value) {
  // Markdown bold, math delimiters and the punctuation that ends a sentence are not part of the answer.
  constexpr std::string_view kEdge = " \t*$`";
  for (bool changed = true; changed;) {
    changed = false;
    while (!value.empty() && kEdge.find(value.front()) != std::string_view::npos) {
      value.remove_prefix(1);
      changed = true;
    }
    while (!value.empty() && (kEdge.find(value.back()) != std::string_view::npos || value.back() == '.')) {
      value.remove_suffix(1);
      changed = true;
    }
    for (std::string_view ending : kKoreanEndings) {
      if (value.size() > ending.size() && ends_with(value, ending)) {
        value.remove_suffix(ending.size());
        changed = true;
        break;
      }
    }
  }
  return std::string(value);
}

std::string math_prompt(std::string_view problem, PromptLanguage language) {
  const std::string_view p = trim_ascii(problem);
  if (language == PromptLanguage::kKorean) return std::string(kKoreanInstruction) + "\n\n" + std::string(p);
  return std::string(p) + "\n" + std::string(kEnglishInstruction);
}

std::string answer_from_phrase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  size_t best = std::string::npos;
  size_t best_end = 0;
  for (std::string_view phrase : kAnswerPhrases) {
    const size_t at = lower.rfind(phrase);
    if (at == std::string::npos) continue;
    // The latest phrase wins; at equal positions the longer phrase ("final answer is" over "answer is").
    if (best == std::string::npos || at > best || (at == best && at + phrase.size() > best_end)) {
      best = at;
      best_end = at + phrase.size();
    }
  }
  if (best == std::string::npos) return {};
  std::string_view rest = text.substr(best_end);
  rest = rest.substr(0, rest.find('\n'));
  return clean_answer_text(rest);
}

void extract_math_answer(MathSolution& solution) {
  solution.final_answer.clear();
  solution.has_boxed_answer = false;
  solution.answer_from_reasoning = false;
  if (auto boxed = last_boxed_answer(solution.full_solution)) {
    solution.final_answer = std::move(*boxed);
    solution.has_boxed_answer = true;
  } else if (auto in_reasoning = last_boxed_answer(solution.reasoning)) {
    solution.final_answer = std::move(*in_reasoning);
    solution.has_boxed_answer = true;
    solution.answer_from_reasoning = true;
  } else {
    solution.final_answer = answer_from_phrase(solution.full_solution);
  }
}

MathSolution MathSolver::solve(std::string_view problem, const MathSolveOptions& options) {
  FP4_CHECK(!trim_ascii(problem).empty(), "math: the problem is empty");
  MathSolution solution;
  solution.problem = std::string(trim_ascii(problem));
  solution.language = resolve_language(options.language, problem);
  AppOutput out = ask(generator_, math_prompt(problem, solution.language), options.sampling);
  solution.full_solution = std::move(out.content);
  solution.reasoning = std::move(out.reasoning);
  solution.finish_reason = std::move(out.finish_reason);
  solution.prompt_tokens = out.prompt_tokens;
  solution.completion_tokens = out.completion_tokens;
  extract_math_answer(solution);
  return solution;
}

}  // namespace fp4::apps
