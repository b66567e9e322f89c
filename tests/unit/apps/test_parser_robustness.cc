// The answer parsers read whatever a model writes: very long lines and random mixtures of the syntax they
// look for must give a result, never a crash (std::regex recursion, reading past the end).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "fp4/apps/boxed_answer.h"
#include "fp4/apps/code_assistant.h"
#include "fp4/apps/code_blocks.h"
#include "fp4/apps/math_solver.h"
#include "fp4/apps/tutor.h"

namespace fp4::apps {
namespace {

TEST(ParserRobustness, VeryLongLines) {
  const std::string long_text(1 << 20, 'a');  // 1 MiB on one line
  CodeReview review;
  parse_review("Summary: " + long_text + "\nIssues:\n1. [high] (security) line 3: " + long_text +
                   " Suggestion: shorten it.\n",
               review);
  EXPECT_EQ(review.summary.size(), long_text.size());
  ASSERT_EQ(review.issues.size(), 1u);
  EXPECT_EQ(review.issues[0].severity, "high");
  EXPECT_EQ(review.issues[0].line, 3);
  EXPECT_EQ(review.issues[0].description.size(), long_text.size());
  EXPECT_EQ(review.issues[0].suggestion, "shorten it.");

  const auto problems = parse_practice_problems("Problem 1: " + long_text + "\nAnswer: \\boxed{" + long_text + "}");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].problem.size(), long_text.size());
  EXPECT_EQ(problems[0].answer.size(), long_text.size());

  const std::string spaces(1 << 20, ' ');
  EXPECT_TRUE(parse_practice_problems(spaces + "Problem 1: x").empty());  // a header must start the line
  parse_review(spaces + "\n" + spaces, review);
  EXPECT_FALSE(review.issues_parsed);
  EXPECT_EQ(last_boxed_answer("\\boxed{" + long_text + "}")->size(), long_text.size());
  EXPECT_EQ(extract_code_blocks("```\n" + long_text + "\n```").at(0).code.size(), long_text.size());
  EXPECT_EQ(answer_from_phrase("The answer is " + long_text).size(), long_text.size());
}

TEST(ParserRobustness, RandomMixturesOfTheirSyntax) {
  const std::vector<std::string> pieces = {
      "\\boxed{", "\\fbox", "\\boxed ", "}", "{", "\\", "$", "```", "~~~", "````python", "```c++", "\n", "    ",
      "Problem 1:", "문제 2.", "**", "Solution:", "Answer:", "답:", "Summary:", "Issues:", "- ", "1. ", "[high]",
      "(security)", "line 4:", "Suggestion:", "none", "x", "42", "답은 ", "\xEA\xB0", "\xFF", "：", "\r\n",
  };
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> length(0, 60);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    for (int i = length(rng); i > 0; --i) text += pieces[pick(rng)];
    for (const BoxedSpan& box : find_boxed(text)) {
      ASSERT_LT(box.begin, box.end);
      ASSERT_LE(box.end, text.size());
      ASSERT_FALSE(box.content.empty());
    }
    for (const CodeBlock& block : extract_code_blocks(text)) ASSERT_LE(block.code.size(), text.size());
    CodeReview review;
    parse_review(text, review);
    for (const ReviewIssue& issue : review.issues) ASSERT_LE(issue.description.size(), text.size());
    for (const PracticeProblem& p : parse_practice_problems(text)) ASSERT_FALSE(p.problem.empty());
    ASSERT_LE(answer_from_phrase(text).size(), text.size());
  }
}

}  // namespace
}  // namespace fp4::apps
