#include <gtest/gtest.h>

#include "unit/apps/scripted_generator.h"
#include "fp4/apps/tutor.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

TEST(PracticeProblems, RequestedFormat) {
  const auto problems = parse_practice_problems(
      "Here are your problems.\n\n"
      "Problem 1: What is 2 + 3?\nSolution: Add 2 and 3 to get 5.\nAnswer: \\boxed{5}\n\n"
      "Problem 2: Solve 2x = 8.\nSolution: Divide both sides by 2.\nx = 4.\nAnswer: \\boxed{4}\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].problem, "What is 2 + 3?");
  EXPECT_EQ(problems[0].solution, "Add 2 and 3 to get 5.");
  EXPECT_EQ(problems[0].answer, "5");
  EXPECT_EQ(problems[1].problem, "Solve 2x = 8.");
  EXPECT_EQ(problems[1].solution, "Divide both sides by 2.\nx = 4.");
  EXPECT_EQ(problems[1].answer, "4");
}

TEST(PracticeProblems, KoreanLabels) {
  const auto problems = parse_practice_problems(
      "문제 1: 3 + 4는 얼마인가요?\n풀이: 3에 4를 더합니다.\n답: \\boxed{7}\n\n"
      "문제 2: 10 - 6은 얼마인가요?\n해설: 10에서 6을 뺍니다.\n정답: 4\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].problem, "3 + 4는 얼마인가요?");
  EXPECT_EQ(problems[0].solution, "3에 4를 더합니다.");
  EXPECT_EQ(problems[0].answer, "7");
  EXPECT_EQ(problems[1].solution, "10에서 6을 뺍니다.");
  EXPECT_EQ(problems[1].answer, "4");
}

TEST(PracticeProblems, MarkdownHeadingsAndBoldLabels) {
  const auto problems = parse_practice_problems(
      "## Practice\n\n### Problem 1\nFind the GCD of 12 and 18.\n\n**Solution:** 18 = 12 + 6, 12 = 2·6.\n\n"
      "**Answer:** 6\n\n### Problem 2\nFind 15% of 40.\n\n**Solution**: 0.15 × 40 = 6.\n\n**Answer**: $6$.\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].problem, "Find the GCD of 12 and 18.");
  EXPECT_EQ(problems[0].solution, "18 = 12 + 6, 12 = 2·6.");
  EXPECT_EQ(problems[0].answer, "6");
  EXPECT_EQ(problems[1].answer, "6");
}

TEST(PracticeProblems, BoldHeadersWithPunctuation) {
  const auto problems = parse_practice_problems(
      "**Problem 1.** Compute 6 × 7.\n*Solution:* 42.\n\n**Exercise 2)** Compute 9 - 3.\nSolution: 6\n"
      "Final Answer: 6\n\n**문제 3:** 2의 3제곱은?\n풀이: 2·2·2 = 8\n답: 8입니다");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].problem, "Compute 6 × 7.");
  EXPECT_EQ(problems[1].problem, "Compute 9 - 3.");
  EXPECT_EQ(problems[1].answer, "6");
  EXPECT_EQ(problems[2].problem, "2의 3제곱은?");
  EXPECT_EQ(problems[2].answer, "8");
}

TEST(PracticeProblems, AnswerOnlyAsBoxInSolution) {
  const auto problems = parse_practice_problems(
      "Problem 1: What is 9 × 9?\nSolution: 9 × 9 = 81, so the answer is \\boxed{81}.\n"
      "Problem 2: What is 1 + 1?\nSolution: one and one make two.\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].answer, "81");
  EXPECT_EQ(problems[1].answer, "");
  EXPECT_EQ(problems[1].solution, "one and one make two.");
}

TEST(PracticeProblems, MultiLineAnswerUsesItsBox) {
  const auto problems =
      parse_practice_problems("Problem 1: Solve x^2 = 4.\nAnswer:\nThe roots are\n\\boxed{-2, 2}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].answer, "-2, 2");
}

TEST(PracticeProblems, NumberedListFallbackWhenNoHeadings) {
  const auto problems = parse_practice_problems(
      "Try these:\n1. What is 5 + 5?\n   Answer: 10\n2. What is 3 × 3?\n   Solution: 3 three times.\n"
      "   Answer: \\boxed{9}\n4. not a problem: numbering skipped\n");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].problem, "What is 5 + 5?");
  EXPECT_EQ(problems[0].answer, "10");
  EXPECT_EQ(problems[1].problem, "What is 3 × 3?");
  EXPECT_EQ(problems[1].solution, "3 three times.");
  EXPECT_EQ(problems[1].answer, "9");
}

TEST(PracticeProblems, NumberedStepsInsideAProblemStayInIt) {
  const auto problems = parse_practice_problems(
      "Problem 1: Add 12 and 34.\nSolution:\n1. Ones: 2 + 4 = 6\n2. Tens: 1 + 3 = 4\nAnswer: \\boxed{46}\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].solution, "1. Ones: 2 + 4 = 6\n2. Tens: 1 + 3 = 4");
  EXPECT_EQ(problems[0].answer, "46");
}

TEST(PracticeProblems, CutOffHeadingIsDropped) {
  const auto problems = parse_practice_problems("Problem 1: What is 1 + 2?\nAnswer: 3\n\nProblem 2:");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].answer, "3");
}

TEST(PracticeProblems, NothingRecognisable) {
  EXPECT_TRUE(parse_practice_problems("").empty());
  EXPECT_TRUE(parse_practice_problems("I cannot help with that.").empty());
}

TEST(TutorLevel, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(parse_tutor_level("Beginner"), TutorLevel::kBeginner);
  EXPECT_EQ(parse_tutor_level("medium"), TutorLevel::kIntermediate);
  EXPECT_EQ(parse_tutor_level("고급"), TutorLevel::kAdvanced);
  try {
    parse_tutor_level("expertish");
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "\"level\" is \"expertish\", expected \"beginner\", \"intermediate\" or \"advanced\"");
  }
}

TEST(Tutor, ExplainPromptFollowsLevelAndLanguage) {
  testing::ScriptedGenerator gen;
  gen.add("A derivative measures change.", "thinking");
  Tutor tutor(gen);
  TutorOptions options;
  options.level = TutorLevel::kBeginner;
  const TutorExplanation e = tutor.explain("derivative", options);
  EXPECT_EQ(e.explanation, "A derivative measures change.");
  EXPECT_EQ(e.reasoning, "thinking");
  EXPECT_EQ(e.language, PromptLanguage::kEnglish);
  EXPECT_NE(gen.last_user_message().find("\"derivative\""), std::string::npos);
  EXPECT_NE(gen.last_user_message().find("beginner"), std::string::npos);

  gen.add("미분은 변화율입니다.");
  options.level = TutorLevel::kAdvanced;
  const TutorExplanation ko = tutor.explain("미분", options);
  EXPECT_EQ(ko.language, PromptLanguage::kKorean);
  EXPECT_NE(gen.last_user_message().find("고급 학습자"), std::string::npos);
}

TEST(Tutor, PracticeProblemsEndToEnd) {
  testing::ScriptedGenerator gen;
  gen.add("Problem 1: What is 2 + 2?\nSolution: 2 + 2 = 4.\nAnswer: \\boxed{4}\n"
          "Problem 2: What is 3 + 3?\nSolution: 3 + 3 = 6.\nAnswer: \\boxed{6}");
  Tutor tutor(gen);
  const PracticeSet set = tutor.practice_problems("addition", 2);
  EXPECT_NE(gen.last_user_message().find("Write 2 practice problems about \"addition\""), std::string::npos);
  ASSERT_EQ(set.problems.size(), 2u);
  EXPECT_EQ(set.problems[1].answer, "6");
  EXPECT_EQ(set.requested, 2);
  EXPECT_THROW(tutor.practice_problems("addition", 0), Error);
  EXPECT_THROW(tutor.practice_problems("addition", kMaxPracticeProblems + 1), Error);
  EXPECT_THROW(tutor.practice_problems("  ", 2), Error);
}

}  // namespace
}  // namespace fp4::apps
