// Evaluation suites: JSONL files in the public datasets' own field layouts, so a file exported from the
// Hugging Face dataset loads as it is.
//
//   math500    problem, answer [, solution, subject, level, unique_id]          (HuggingFaceH4/MATH-500)
//   aime       problem, answer (integer, as a number or a string) [, id, url, year, solution];
//              the capitalised Problem / Answer / ID / Solution of some AIME sets are accepted too
//   mmlu_pro   question, options [up to 10 strings], answer (letter) [, answer_index, category, question_id]
//   gpqa       Question, Correct Answer, Incorrect Answer 1..3 [, Record ID, Subdomain]   (Idavidrein/gpqa);
//              the four choices are shuffled with a fixed seed per question (the same order on every run)
//   humaneval  task_id, prompt, canonical_solution, test, entry_point            (openai/human-eval)
//
// The type is detected from the first record's fields unless given. Every error names the file, the line
// and the field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::eval {

enum class SuiteType { kMath500, kAime, kMmluPro, kGpqa, kHumanEval };

// "math500", "aime", "mmlu_pro", "gpqa", "humaneval".
std::string_view suite_type_name(SuiteType type);
// Accepts the names above (and "math-500", "mmlu-pro", "human_eval"); throws fp4::Error otherwise.
SuiteType parse_suite_type(std::string_view name);

struct Problem {
  std::string id;        // unique_id / id / ID / question_id / Record ID / task_id, else "line N"
  std::string question;  // problem (math), question (multiple choice), prompt (humaneval)
  std::string answer;    // math: the reference answer; multiple choice: the correct letter
  std::vector<std::string> options;  // multiple choice, in the order shown to the model
  std::string category;  // subject / category / Subdomain, for the per-category breakdown ("" if none)
  // humaneval
  std::string test;
  std::string entry_point;
  std::string canonical_solution;
};

struct Suite {
  std::string name;  // the file's stem: "math500_sample" for evals/math500_sample.jsonl
  std::string path;
  SuiteType type = SuiteType::kMath500;
  std::vector<Problem> problems;
};

// Loads a JSONL suite (blank lines skipped). Throws fp4::Error "FILE:LINE: field 'x': ..." on bad input,
// and for an empty file or duplicate problem ids.
Suite load_suite(const std::string& path, std::optional<SuiteType> type = std::nullopt);

// The GPQA option order: a permutation of {0: correct, 1..3: incorrect} seeded by the question text, so
// every run (and every tool that uses this function) shows the same order.
std::vector<int> gpqa_option_order(std::string_view question);

bool is_multiple_choice(SuiteType type);
bool is_math(SuiteType type);

}  // namespace fp4::eval
