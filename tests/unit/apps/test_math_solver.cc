#include <gtest/gtest.h>

#include "unit/apps/scripted_generator.h"
#include "fp4/apps/app_common.h"
#include "fp4/apps/math_solver.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

TEST(Language, DetectsHangul) {
  EXPECT_TRUE(contains_hangul("2x + 5 = 15를 풀어주세요"));
  EXPECT_TRUE(contains_hangul("ㄱ"));  // compatibility jamo
  EXPECT_FALSE(contains_hangul("Solve 2x + 5 = 15"));
  EXPECT_FALSE(contains_hangul("日本語と中文"));
  EXPECT_FALSE(contains_hangul("\xEA\x80"));  // a truncated sequence is skipped, not read past the end
  EXPECT_EQ(resolve_language(LanguageChoice::kAuto, "안녕"), PromptLanguage::kKorean);
  EXPECT_EQ(resolve_language(LanguageChoice::kEnglish, "안녕"), PromptLanguage::kEnglish);
  EXPECT_EQ(resolve_language(LanguageChoice::kKorean, "hello"), PromptLanguage::kKorean);
}

TEST(Language, ParsesChoices) {
  EXPECT_EQ(parse_language_choice("AUTO"), LanguageChoice::kAuto);
  EXPECT_EQ(parse_language_choice("en"), LanguageChoice::kEnglish);
  EXPECT_EQ(parse_language_choice("Korean"), LanguageChoice::kKorean);
  EXPECT_EQ(parse_language_choice("한국어"), LanguageChoice::kKorean);
  try {
    parse_language_choice("fr", "language");
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "\"language\" is \"fr\", expected \"auto\", \"en\" or \"ko\"");
  }
}

TEST(MathPrompt, EnglishAndKoreanTemplates) {
  EXPECT_EQ(math_prompt("  What is 2 + 3?\n", PromptLanguage::kEnglish),
            "What is 2 + 3?\nPlease reason step by step, and put your final answer within \\boxed{}.");
  EXPECT_EQ(math_prompt("2x + 5 = 15를 풀어주세요", PromptLanguage::kKorean),
            "다음 문제를 차근차근 풀고, 최종 답을 \\boxed{} 안에 적어 주세요.\n\n2x + 5 = 15를 풀어주세요");
}

TEST(AnswerPhrase, FindsTheLastPhrase) {
  EXPECT_EQ(answer_from_phrase("The answer is 5."), "5");
  EXPECT_EQ(answer_from_phrase("First the answer is 4. No wait, the final answer is **6**."), "6");
  EXPECT_EQ(answer_from_phrase("Answer: $x = 3$"), "x = 3");
  EXPECT_EQ(answer_from_phrase("따라서 답은 7입니다."), "7");
  EXPECT_EQ(answer_from_phrase("정답: C"), "C");
  EXPECT_EQ(answer_from_phrase("answer is 12\nand some more text"), "12");
  EXPECT_EQ(answer_from_phrase("no phrase here"), "");
  EXPECT_EQ(clean_answer_text(" **42입니다.** "), "42");
}

TEST(MathSolver, EnglishProblemEndToEnd) {
  testing::ScriptedGenerator gen;
  gen.add("The answer is \\boxed{5}.", "2 + 3: 2+3+0=5 -> digit 5, carry 0");
  MathSolveOptions options;
  options.sampling.temperature = 0.0;
  options.sampling.n = 4;  // an application returns one answer: n is forced to 1
  const MathSolution s = MathSolver(gen).solve("What is 2 + 3?", options);
  ASSERT_EQ(gen.requests().size(), 1u);
  const GenerationRequest& r = gen.requests()[0];
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.messages[0].content, math_prompt("What is 2 + 3?", PromptLanguage::kEnglish));
  EXPECT_EQ(r.sampling.temperature, 0.0);
  EXPECT_EQ(r.sampling.n, 1);
  EXPECT_EQ(s.language, PromptLanguage::kEnglish);
  EXPECT_EQ(s.full_solution, "The answer is \\boxed{5}.");
  EXPECT_EQ(s.reasoning, "2 + 3: 2+3+0=5 -> digit 5, carry 0");
  EXPECT_EQ(s.final_answer, "5");
  EXPECT_TRUE(s.has_boxed_answer);
  EXPECT_FALSE(s.answer_from_reasoning);
  EXPECT_EQ(s.finish_reason, "stop");
  EXPECT_EQ(s.prompt_tokens, 11);
  EXPECT_EQ(s.completion_tokens, 7);
}

TEST(MathSolver, KoreanProblemUsesKoreanTemplate) {
  testing::ScriptedGenerator gen;
  gen.add("따라서 답은 \\boxed{5}입니다.");
  const MathSolution s = MathSolver(gen).solve("2x + 5 = 15를 풀어주세요");
  EXPECT_EQ(s.language, PromptLanguage::kKorean);
  EXPECT_EQ(gen.last_user_message().rfind("다음 문제를 차근차근", 0), 0u);
  EXPECT_EQ(s.final_answer, "5");
}

TEST(MathSolver, LanguageOverride) {
  testing::ScriptedGenerator gen;
  gen.add("\\boxed{5}");
  MathSolveOptions options;
  options.language = LanguageChoice::kEnglish;
  const MathSolution s = MathSolver(gen).solve("2x + 5 = 15를 풀어주세요", options);
  EXPECT_EQ(s.language, PromptLanguage::kEnglish);
  EXPECT_NE(gen.last_user_message().find("Please reason step by step"), std::string::npos);
}

TEST(MathSolver, CutOffWhileReasoningFallsBackToTheReasoningsLastBox) {
  testing::ScriptedGenerator gen;
  gen.add("", "so x = \\boxed{4}, check: 2*4+5=13, wrong, x = \\boxed{5}", "length");
  const MathSolution s = MathSolver(gen).solve("Solve for x: 2x + 5 = 15");
  EXPECT_EQ(s.final_answer, "5");
  EXPECT_TRUE(s.has_boxed_answer);
  EXPECT_TRUE(s.answer_from_reasoning);
  EXPECT_EQ(s.finish_reason, "length");
}

TEST(MathSolver, NoBoxUsesTheAnswerPhrase) {
  testing::ScriptedGenerator gen;
  gen.add("x is 5, so the answer is 5.");
  const MathSolution s = MathSolver(gen).solve("Solve for x: 2x + 5 = 15");
  EXPECT_EQ(s.final_answer, "5");
  EXPECT_FALSE(s.has_boxed_answer);

  gen.add("Hello! I am a small model.");
  const MathSolution none = MathSolver(gen).solve("Hi");
  EXPECT_EQ(none.final_answer, "");
  EXPECT_FALSE(none.has_boxed_answer);
}

TEST(MathSolver, RejectsAnEmptyProblem) {
  testing::ScriptedGenerator gen;
  EXPECT_THROW(MathSolver(gen).solve(" \n "), Error);
  EXPECT_TRUE(gen.requests().empty());
}

}  // namespace
}  // namespace fp4::apps
