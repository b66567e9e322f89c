#include "fp4/apps/tutor.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <regex>
#include <utility>

#include "fp4/apps/boxed_answer.h"
#include "fp4/apps/math_solver.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view level_audience(TutorLevel level, PromptLanguage language) {
  const bool ko = language == PromptLanguage::kKorean;
  switch (level) {
    case TutorLevel::kBeginner:
      return ko ? "이 주제를 처음 배우는 초급 학습자" : "a beginner who is new to the subject";
    case TutorLevel::kIntermediate:
      return ko ? "기초를 알고 있는 중급 학습자" : "an intermediate student who knows the basics";
    case TutorLevel::kAdvanced:
      return ko ? "깊이 있게 공부하는 고급 학습자" : "an advanced student";
  }
  return {};
}

std::string_view level_instructions(TutorLevel level, PromptLanguage language) {
  const bool ko = language == PromptLanguage::kKorean;
  switch (level) {
    case TutorLevel::kBeginner:
      return ko ? "쉬운 말과 일상적인 비유를 쓰고, 작은 예제 하나를 단계별로 풀어 보여 주세요."
                : "Use plain words and an everyday analogy, and work through one small example step by step.";
    case TutorLevel::kIntermediate:
      return ko ? "정확한 정의, 작동 원리, 풀이 예제 하나를 제시하고 흔한 실수를 짚어 주세요."
                : "Give the precise definition, explain how it works, work through an example, and point out a common "
                  "mistake.";
    case TutorLevel::kAdvanced:
      return ko ? "엄밀하게 설명해 주세요: 정확한 정의, 핵심 결과와 그 이유, 경계 사례, 관련 개념과의 연결."
                : "Be rigorous: precise definitions, the key results and why they hold, edge cases, and connections "
                  "to related ideas.";
  }
  return {};
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return std::string(trim_ascii(out));
}

struct Section {
  std::vector<std::string> problem;
  std::vector<std::string> solution;
  std::vector<std::string> answer;
  enum class Part { kProblem, kSolution, kAnswer } part = Part::kProblem;
};

PracticeProblem finish(const Section& s) {
  PracticeProblem p;
  p.problem = join_lines(s.problem);
  p.solution = join_lines(s.solution);
  const std::string answer_text = join_lines(s.answer);
  if (auto boxed = last_boxed_answer(answer_text)) {
    p.answer = std::move(*boxed);
  } else if (!answer_text.empty()) {
    p.answer = clean_answer_text(answer_text.substr(0, answer_text.find('\n')));
  } else if (auto in_solution = last_boxed_answer(p.solution)) {
    p.answer = std::move(*in_solution);
  } else if (auto in_problem = last_boxed_answer(p.problem)) {
    p.answer = std::move(*in_problem);
  }
  return p;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t newline = std::min(text.find('\n', pos), text.size());
    std::string line(text.substr(pos, newline - pos));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    if (newline == text.size()) break;
    pos = newline + 1;
  }
  return lines;
}

}  // namespace

TutorLevel parse_tutor_level(std::string_view text, std::string_view field) {
  const std::string t = lower(trim_ascii(text));
  if (t == "beginner" || t == "basic" || t == "easy" || t == "초급") return TutorLevel::kBeginner;
  if (t == "intermediate" || t == "medium" || t == "중급") return TutorLevel::kIntermediate;
  if (t == "advanced" || t == "expert" || t == "hard" || t == "고급") return TutorLevel::kAdvanced;
  fail("\"{}\" is \"{}\", expected \"beginner\", \"intermediate\" or \"advanced\"", field, text);
}

std::string_view tutor_level_name(TutorLevel level) {
  switch (level) {
    case TutorLevel::kBeginner:
      return "beginner";
    case TutorLevel::kIntermediate:
      return "intermediate";
    case TutorLevel::kAdvanced:
      return "advanced";
  }
  return "intermediate";
}

std::string explanation_prompt(std::string_view concept_name, TutorLevel level, PromptLanguage language) {
  const std::string c(trim_ascii(concept_name));
  if (language == PromptLanguage::kKorean) {
    return "\"" + c + "\" 개념을 " + std::string(level_audience(level, language)) + "에게 설명해 주세요. " +
           std::string(level_instructions(level, language));
  }
  return "Explain the concept \"" + c + "\" to " + std::string(level_audience(level, language)) + ". " +
         std::string(level_instructions(level, language));
}

std::string practice_prompt(std::string_view topic, int count, TutorLevel level, PromptLanguage language) {
  const std::string t(trim_ascii(topic));
  const std::string n = std::to_string(count);
  if (language == PromptLanguage::kKorean) {
    return "\"" + t + "\"에 대한 연습 문제 " + n + "개를 " + std::string(level_audience(level, language)) +
           " 수준에 맞게 만들어 주세요. 각 문제를 정확히 다음 형식으로 쓰고, 번호는 1부터 " + n +
           "까지 매겨 주세요:\n\n문제 1: <문제>\n풀이: <단계별 풀이>\n답: \\boxed{<최종 답>}";
  }
  return "Write " + n + " practice problems about \"" + t + "\" for " + std::string(level_audience(level, language)) +
         ". Use exactly this format for each one, numbering them from 1 to " + n +
         ":\n\nProblem 1: <the problem>\nSolution: <a step-by-step solution>\nAnswer: \\boxed{<the final answer>}";
}

std::vector<PracticeProblem> parse_practice_problems(std::string_view text) {
  // Patterns match at the start of a line, within kRegexWindow bytes (app_common.h says why); the text
  // after the match is taken from the line.
  static const std::regex kHeader(
      R"(\s*(?:#{1,6}\s*)?(?:\*{1,2}|_{1,2})?\s*(?:practice\s+problem|problem|question|exercise|연습\s*문제|문제)\s*#?\s*(\d+)\s*(?:\*{1,2}|_{1,2})?\s*(?::|：|\.|\)|-|–)?\s*(?:\*{1,2}|_{1,2})?\s*)",
      std::regex::icase);
  static const std::regex kNumbered(R"((\d+)[.)]\s+)");
  static const std::regex kLabel(
      R"(\s*(?:#{1,6}\s*)?(?:[-*]\s+)?(?:\*{1,2}|_{1,2})?\s*(solution|explanation|풀이|해설|해답|final\s+answer|answer|정답|답)\s*(?:\*{1,2}|_{1,2})?\s*((?::|：)\s*(?:\*{1,2}|_{1,2})?\s*)?)",
      std::regex::icase);

  const std::vector<std::string> lines = split_lines(text);
  bool any_header = false;
  for (const std::string& line : lines) {
    if (match_at_start(line, kHeader)) {
      any_header = true;
      break;
    }
  }

  std::vector<PracticeProblem> problems;
  std::optional<Section> current;
  int next_number = 1;  // for the numbered-list fallback: items must count up from 1
  for (const std::string& line : lines) {
    bool starts = false;
    std::string rest;
    if (any_header) {
      if (auto m = match_at_start(line, kHeader)) {
        starts = true;
        rest = line.substr(m->length);
      }
    } else if (auto m = match_at_start(line, kNumbered); m && std::stoll(m->group(1).substr(0, 9)) == next_number) {
      starts = true;
      rest = line.substr(m->length);
      ++next_number;
    }
    if (starts) {
      if (current) problems.push_back(finish(*current));
      current.emplace();
      if (!trim_ascii(rest).empty()) current->problem.push_back(rest);
      continue;
    }
    if (!current) continue;  // an introduction before the first problem
    // A label line: "Answer: 5", or a bare "**Solution**" heading with nothing after it.
    if (auto m = match_at_start(line, kLabel); m && (m->has(2) || trim_ascii(line.substr(m->length)).empty())) {
      const std::string label = lower(m->group(1));
      const bool is_answer = label.find("answer") != std::string::npos || label == "정답" || label == "답";
      current->part = is_answer ? Section::Part::kAnswer : Section::Part::kSolution;
      const std::string value = line.substr(m->length);
      if (!trim_ascii(value).empty()) (is_answer ? current->answer : current->solution).push_back(value);
      continue;
    }
    switch (current->part) {
      case Section::Part::kProblem:
        current->problem.push_back(line);
        break;
      case Section::Part::kSolution:
        current->solution.push_back(line);
        break;
      case Section::Part::kAnswer:
        current->answer.push_back(line);
        break;
    }
  }
  if (current) problems.push_back(finish(*current));
  // A heading with nothing under it (a cut-off answer) is not a problem.
  std::erase_if(problems, [](const PracticeProblem& p) { return p.problem.empty(); });
  return problems;
}

TutorExplanation Tutor::explain(std::string_view concept_name, const TutorOptions& options) {
  FP4_CHECK(!trim_ascii(concept_name).empty(), "tutor: the concept is empty");
  TutorExplanation result;
  result.concept_name = std::string(trim_ascii(concept_name));
  result.level = options.level;
  result.language = resolve_language(options.language, concept_name);
  AppOutput out = ask(generator_, explanation_prompt(concept_name, options.level, result.language), options.sampling);
  result.explanation = std::move(out.content);
  take_generation_fields(out, result);
  return result;
}

PracticeSet Tutor::practice_problems(std::string_view topic, int count, const TutorOptions& options) {
  FP4_CHECK(!trim_ascii(topic).empty(), "tutor: the topic is empty");
  FP4_CHECK(count >= 1 && count <= kMaxPracticeProblems, "tutor: the problem count is {}, expected 1 to {}", count,
            kMaxPracticeProblems);
  PracticeSet result;
  result.topic = std::string(trim_ascii(topic));
  result.level = options.level;
  result.language = resolve_language(options.language, topic);
  result.requested = count;
  AppOutput out = ask(generator_, practice_prompt(topic, count, options.level, result.language), options.sampling);
  result.problems = parse_practice_problems(out.content);
  result.text = std::move(out.content);
  take_generation_fields(out, result);
  return result;
}

}  // namespace fp4::apps
