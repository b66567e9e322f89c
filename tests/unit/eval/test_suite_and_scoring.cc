// Suite loading (every layout, detection, one-line errors naming file, line and field), multiple-choice
// letter extraction, and scoring of completions per suite type.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "fp4/base/error.h"
#include "fp4/eval/choice_answer.h"
#include "fp4/eval/scoring.h"
#include "fp4/eval/suite.h"

namespace fp4::eval {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("fp4_eval_test_{}_{}", getpid(), name);
  std::ofstream(path) << text;
  return path.string();
}

std::string load_error(const std::string& name, const std::string& text) {
  const std::string path = write_temp(name, text);
  try {
    load_suite(path);
  } catch (const Error& e) {
    std::filesystem::remove(path);
    return e.what();
  }
  std::filesystem::remove(path);
  return "";
}

TEST(SuiteLoad, DetectsEveryLayout) {
  struct Case {
    const char* line;
    SuiteType type;
  } cases[] = {
      {R"({"problem": "1+1?", "answer": "2", "subject": "Algebra", "level": 1, "unique_id": "a/1"})", SuiteType::kMath500},
      {R"({"problem": "x?", "answer": "\\frac12"})", SuiteType::kMath500},
      {R"({"id": 1, "problem": "p", "answer": "33", "url": "u", "year": "2024"})", SuiteType::kAime},
      {R"({"ID": "2024-I-1", "Problem": "p", "Solution": "s", "Answer": 204})", SuiteType::kAime},
      {R"({"problem_idx": 1, "problem": "p", "answer": 7})", SuiteType::kAime},
      {R"({"question": "q", "options": ["a", "b", "c"], "answer": "B", "answer_index": 1, "category": "math"})",
       SuiteType::kMmluPro},
      {R"({"Question": "q", "Correct Answer": "r", "Incorrect Answer 1": "w1", "Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"})",
       SuiteType::kGpqa},
      {R"({"task_id": "T/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n", "test": "def check(c): pass", "entry_point": "f"})",
       SuiteType::kHumanEval},
  };
  for (const auto& c : cases) {
    const std::string path = write_temp("detect.jsonl", std::string(c.line) + "\n");
    const Suite s = load_suite(path);
    EXPECT_EQ(s.type, c.type) << c.line;
    ASSERT_EQ(s.problems.size(), 1u);
    std::filesystem::remove(path);
  }
}

TEST(SuiteLoad, AimeIntegerAnswersAndIds) {
  const std::string path = write_temp("aime.jsonl", R"({"ID": "2024-I-1", "Problem": "p", "Answer": 204})"
                                                    "\n\n" R"({"ID": "2024-I-2", "Problem": "q", "Answer": "025"})" "\n");
  const Suite s = load_suite(path);
  ASSERT_EQ(s.problems.size(), 2u);
  EXPECT_EQ(s.problems[0].id, "2024-I-1");
  EXPECT_EQ(s.problems[0].answer, "204");
  EXPECT_EQ(s.problems[1].answer, "025");
  std::filesystem::remove(path);
}

TEST(SuiteLoad, GpqaShuffleIsFixedPerQuestionAndKeepsTheCorrectLetter) {
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text += fmt::format(R"({{"Question": "question {}", "Correct Answer": "right", "Incorrect Answer 1": "w1", )"
                        R"("Incorrect Answer 2": "w2", "Incorrect Answer 3": "w3"}})" "\n",
                        i);
  }
  const std::string path = write_temp("gpqa.jsonl", text);
  const Suite a = load_suite(path), b = load_suite(path);
  std::set<std::string> letters;
  for (size_t i = 0; i < a.problems.size(); ++i) {
    const Problem& p = a.problems[i];
    ASSERT_EQ(p.options.size(), 4u);
    EXPECT_EQ(p.options[static_cast<size_t>(p.answer[0] - 'A')], "right");
    EXPECT_EQ(p.options, b.problems[i].options);  // same order on every load
    letters.insert(p.answer);
  }
  EXPECT_GT(letters.size(), 1u);  // the correct answer is not always in the same slot
  std::filesystem::remove(path);
}

TEST(SuiteLoad, ErrorsNameFileLineAndField) {
  EXPECT_NE(load_error("e1.jsonl", "{\"problem\": \"p\", \"answer\": \"1\"}\n{\"problem\": \"q\"}\n").find(":2: field 'answer' is missing"),
            std::string::npos);
  EXPECT_NE(load_error("e2.jsonl", "{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": \"C\"}\n")
                .find(":1: field 'answer': expected one letter A-B for 2 options, got 'C'"),
            std::string::npos);
  EXPECT_NE(load_error("e3.jsonl", "{\"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": \"A\", \"answer_index\": 1}\n")
                .find("field 'answer_index' (1) does not match answer 'A'"),
            std::string::npos);
  EXPECT_NE(load_error("e4.jsonl", "{not json\n").find(":1: not valid JSON"), std::string::npos);
  EXPECT_NE(load_error("e5.jsonl", "{\"text\": \"hello\"}\n").find("cannot tell the suite type"), std::string::npos);
  EXPECT_NE(load_error("e6.jsonl", "{\"ID\": \"1\", \"Problem\": \"p\", \"Answer\": \"1/2\"}\n")
                .find("field 'answer': an AIME answer is an integer"),
            std::string::npos);
  EXPECT_NE(load_error("e7.jsonl", "\n\n").find("the suite has no problems"), std::string::npos);
  EXPECT_NE(load_error("e8.jsonl", "{\"problem\": \"p\", \"answer\": \"1\", \"unique_id\": \"x\"}\n"
                                    "{\"problem\": \"q\", \"answer\": \"2\", \"unique_id\": \"x\"}\n")
                .find(":2: duplicate problem id 'x'"),
            std::string::npos);
  EXPECT_NE(load_error("e9.jsonl", "{\"problem\": 5, \"answer\": \"1\"}\n").find("field 'problem' must be a string"),
            std::string::npos);
}

TEST(SuiteLoad, ExplicitTypeOverridesDetection) {
  const std::string path = write_temp("typed.jsonl", R"({"problem": "p", "answer": "12"})" "\n");
  EXPECT_EQ(load_suite(path, SuiteType::kAime).type, SuiteType::kAime);
  EXPECT_EQ(load_suite(path).type, SuiteType::kMath500);
  EXPECT_THROW(parse_suite_type("trivia"), Error);
  std::filesystem::remove(path);
}

TEST(ChoiceLetter, StatementsBoldBoxesAndLines) {
  struct Case {
    const char* text;
    char expected;
  } cases[] = {
      {"Let me think... The answer is (C).", 'C'},
      {"The answer is C", 'C'},
      {"**C**", 'C'},
      {"so the best option is **(D)**", 'D'},
      {"답: C", 'C'},
      {"따라서 정답은 B입니다.", 'B'},
      {"Answer: C.", 'C'},
      {"Answer: **E**", 'E'},
      {"The correct option is J.", 'J'},
      {"\\boxed{G}", 'G'},
      {"\\boxed{(H)}", 'H'},
      {"\\boxed{\\text{B}}", 'B'},
      {"\\boxed{A. 42}", 'A'},
      {"First I thought the answer is A, but checking again, the answer is (B).", 'B'},  // last mention wins
      {"The answer is (A). Final: \\boxed{D}", 'D'},  // a box beats a statement
      {"Reasoning...\n(F)\n", 'F'},
      {"Reasoning...\nC.\n", 'C'},
  };
  for (const auto& c : cases) {
    const auto got = extract_choice_letter(c.text, 10);
    ASSERT_TRUE(got.has_value()) << c.text;
    EXPECT_EQ(*got, c.expected) << c.text;
  }
}

TEST(ChoiceLetter, NoAnswerWhenThereIsNoStandaloneLetter) {
  EXPECT_FALSE(extract_choice_letter("A good question. I am not sure.", 10));
  EXPECT_FALSE(extract_choice_letter("The answer is Apple.", 10));
  EXPECT_FALSE(extract_choice_letter("", 10));
  EXPECT_FALSE(extract_choice_letter("The answer is (E).", 4));  // GPQA has A-D only
  EXPECT_FALSE(extract_choice_letter("\\boxed{42}", 10));
}

TEST(Scoring, MathUsesTheLastBoxAndEquivalence) {
  Problem p;
  p.answer = "\\frac{1}{2}";
  EXPECT_TRUE(score_completion(SuiteType::kMath500, p, "So \\boxed{3} no wait \\boxed{0.5}.").correct);
  const Score wrong = score_completion(SuiteType::kMath500, p, "\\boxed{0.5} then \\boxed{3}");
  EXPECT_FALSE(wrong.correct);
  EXPECT_EQ(wrong.extracted, "3");
  const Score none = score_completion(SuiteType::kMath500, p, "one half");
  EXPECT_FALSE(none.correct);
  EXPECT_EQ(none.extracted, "");
}

TEST(Scoring, MultipleChoicePrompt) {
  Problem p;
  p.question = "What is 2 + 2?";
  p.options = {"3", "4", "5"};
  p.answer = "B";
  EXPECT_EQ(build_prompt(SuiteType::kMmluPro, p),
            "Answer the following multiple choice question. Think step by step, then put the letter of the correct "
            "option within \\boxed{}.\n\nQuestion: What is 2 + 2?\nOptions:\nA. 3\nB. 4\nC. 5");
  EXPECT_TRUE(score_completion(SuiteType::kMmluPro, p, "The answer is \\boxed{B}.").correct);
  EXPECT_FALSE(score_completion(SuiteType::kMmluPro, p, "The answer is \\boxed{A}.").correct);
}

TEST(Scoring, HumanEvalProgramsRunInTheSandbox) {
  Problem p;
  p.id = "T/0";
  p.question = "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    \"\"\"Sum.\"\"\"\n";
  p.entry_point = "total";
  p.test = "def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n";
  // A whole function in a fenced block (imports come from the prompt).
  EXPECT_TRUE(score_completion(SuiteType::kHumanEval, p,
                               "Here:\n```python\ndef total(xs: List[int]) -> int:\n    return sum(xs)\n```\n")
                  .correct);
  // A bare body continues the prompt (the original HumanEval protocol).
  EXPECT_TRUE(score_completion(SuiteType::kHumanEval, p, "    return sum(xs)\n").correct);
  const Score bad = score_completion(SuiteType::kHumanEval, p, "```python\ndef total(xs):\n    return 0\n```");
  EXPECT_FALSE(bad.correct);
  EXPECT_EQ(bad.extracted, "failed");
  EXPECT_NE(bad.detail.find("AssertionError"), std::string::npos);
  // The block that defines the entry point wins over a later usage example.
  EXPECT_TRUE(score_completion(SuiteType::kHumanEval, p,
                               "```python\ndef total(xs):\n    return sum(xs)\n```\nUsage:\n```python\nprint(total([1]))\n```")
                  .correct);
}

}  // namespace
}  // namespace fp4::eval
