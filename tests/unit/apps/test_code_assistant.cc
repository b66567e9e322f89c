#include <gtest/gtest.h>

#include "unit/apps/scripted_generator.h"
#include "fp4/apps/code_assistant.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

TEST(ReviewParsing, RequestedFormat) {
  CodeReview r;
  parse_review(
      "Summary: The function works but trusts its input.\n"
      "Issues:\n"
      "1. [high] (security) line 3: The query is built by string concatenation. Suggestion: use parameters.\n"
      "2. [low] (style) line 7: The name `x` says nothing.\n"
      "   It is used in three places. Suggestion: rename it to `count`.\n",
      r);
  EXPECT_TRUE(r.issues_parsed);
  EXPECT_EQ(r.summary, "The function works but trusts its input.");
  ASSERT_EQ(r.issues.size(), 2u);
  EXPECT_EQ(r.issues[0].severity, "high");
  EXPECT_EQ(r.issues[0].category, "security");
  ASSERT_TRUE(r.issues[0].line.has_value());
  EXPECT_EQ(*r.issues[0].line, 3);
  EXPECT_EQ(r.issues[0].description, "The query is built by string concatenation.");
  EXPECT_EQ(r.issues[0].suggestion, "use parameters.");
  EXPECT_EQ(r.issues[1].severity, "low");
  EXPECT_EQ(r.issues[1].category, "style");
  EXPECT_EQ(*r.issues[1].line, 7);
  EXPECT_EQ(r.issues[1].description, "The name `x` says nothing. It is used in three places.");
  EXPECT_EQ(r.issues[1].suggestion, "rename it to `count`.");
}

TEST(ReviewParsing, MarkdownHeadingsBulletsAndLooseTags) {
  CodeReview r;
  parse_review(
      "## Summary\nSolid code.\nMostly idiomatic.\n\n## Issues\n"
      "- **Medium** - (performance) The loop copies the vector on each pass (lines 10-12). Fix: pass by reference.\n"
      "* Missing error handling when the file does not open.\n",
      r);
  EXPECT_TRUE(r.issues_parsed);
  EXPECT_EQ(r.summary, "Solid code. Mostly idiomatic.");
  ASSERT_EQ(r.issues.size(), 2u);
  EXPECT_EQ(r.issues[0].severity, "medium");
  EXPECT_EQ(r.issues[0].category, "performance");
  EXPECT_EQ(r.issues[0].line, 10);
  EXPECT_EQ(r.issues[0].suggestion, "pass by reference.");
  EXPECT_EQ(r.issues[1].severity, "");
  EXPECT_EQ(r.issues[1].category, "");
  EXPECT_FALSE(r.issues[1].line.has_value());
  EXPECT_EQ(r.issues[1].description, "Missing error handling when the file does not open.");
}

TEST(ReviewParsing, IssuesNone) {
  CodeReview r;
  parse_review("Summary: Clean.\nIssues: none\n", r);
  EXPECT_TRUE(r.issues_parsed);
  EXPECT_TRUE(r.issues.empty());
  parse_review("**Summary:** Clean.\n**Issues:**\n- None.\n", r);
  EXPECT_TRUE(r.issues_parsed);
  EXPECT_TRUE(r.issues.empty());
  EXPECT_EQ(r.summary, "Clean.");
}

TEST(ReviewParsing, Korean) {
  CodeReview r;
  parse_review("요약: 대체로 좋습니다.\n문제점:\n1. [높음] (security) 줄 4: 입력을 검증하지 않습니다. 제안: 길이를 확인하세요.\n", r);
  EXPECT_EQ(r.summary, "대체로 좋습니다.");
  ASSERT_EQ(r.issues.size(), 1u);
  EXPECT_EQ(r.issues[0].severity, "high");
  EXPECT_EQ(r.issues[0].category, "security");
  EXPECT_EQ(r.issues[0].line, 4);
  EXPECT_EQ(r.issues[0].description, "입력을 검증하지 않습니다.");
  EXPECT_EQ(r.issues[0].suggestion, "길이를 확인하세요.");
}

TEST(ReviewParsing, JsonAnswer) {
  CodeReview r;
  parse_review(
      "```json\n{\"summary\": \"ok\", \"issues\": [{\"severity\": \"Critical\", \"category\": \"Error-Handling\", "
      "\"line\": \"12\", \"description\": \"unchecked\", \"fix\": \"check it\"}]}\n```",
      r);
  EXPECT_TRUE(r.issues_parsed);
  EXPECT_EQ(r.summary, "ok");
  ASSERT_EQ(r.issues.size(), 1u);
  EXPECT_EQ(r.issues[0].severity, "high");
  EXPECT_EQ(r.issues[0].category, "error_handling");
  EXPECT_EQ(r.issues[0].line, 12);
  EXPECT_EQ(r.issues[0].description, "unchecked");
  EXPECT_EQ(r.issues[0].suggestion, "check it");
}

TEST(ReviewParsing, FreeProseIsNotParsed) {
  CodeReview r;
  parse_review("This code looks fine to me overall, though the loop could be faster.", r);
  EXPECT_FALSE(r.issues_parsed);
  EXPECT_TRUE(r.issues.empty());
  EXPECT_EQ(r.summary, "");
}

TEST(Focus, Canonical) {
  EXPECT_EQ(canonical_focus("Security"), "security");
  EXPECT_EQ(canonical_focus("error-handling"), "error_handling");
  EXPECT_EQ(canonical_focus("Error Handling"), "error_handling");
  EXPECT_EQ(canonical_focus("tests"), "testing");
  EXPECT_FALSE(canonical_focus("vibes").has_value());
}

TEST(CodeAssistant, GenerateExtractsTheRequestedLanguage) {
  testing::ScriptedGenerator gen;
  gen.add("Install it:\n```bash\npip install x\n```\nCode:\n```py\ndef add(a, b):\n    return a + b\n```\nIt adds.");
  const CodeGeneration g = CodeAssistant(gen).generate("add two numbers", "Python");
  EXPECT_EQ(gen.last_user_message(),
            "Write Python code for the following task.\n\nTask: add two numbers\n\nGive the complete code in one "
            "```python code block, then explain it briefly.");
  EXPECT_EQ(g.language, "python");
  EXPECT_EQ(g.code, "def add(a, b):\n    return a + b");
  ASSERT_EQ(g.blocks.size(), 2u);
  EXPECT_EQ(g.blocks[0].language, "bash");
}

TEST(CodeAssistant, GenerateKoreanTaskAndCutOffCode) {
  testing::ScriptedGenerator gen;
  gen.add("```cpp\nint add(int a, int b) {\n  return a +", "", "length");
  const CodeGeneration g = CodeAssistant(gen).generate("두 수를 더하는 함수", "c++");
  EXPECT_EQ(gen.last_user_message().rfind("다음 작업을 수행하는 C++ 코드를", 0), 0u);
  EXPECT_EQ(g.code, "int add(int a, int b) {\n  return a +");
  ASSERT_EQ(g.blocks.size(), 1u);
  EXPECT_FALSE(g.blocks[0].terminated);
  EXPECT_EQ(g.finish_reason, "length");
}

TEST(CodeAssistant, ReviewPromptFencesCodeSafelyAndNamesFocus) {
  testing::ScriptedGenerator gen;
  gen.add("Summary: fine.\nIssues: none");
  CodeReviewOptions options;
  options.language = "python";
  options.focus = {"Security", "performance"};
  const std::string code = "s = '```'\nprint(s)\n";
  const CodeReview r = CodeAssistant(gen).review(code, options);
  const std::string& prompt = gen.last_user_message();
  EXPECT_NE(prompt.find("Review the following Python code. Focus on: security, performance."), std::string::npos);
  // The code holds a run of three backticks, so the fence around it is four long.
  EXPECT_NE(prompt.find("````python\ns = '```'\nprint(s)\n````"), std::string::npos);
  EXPECT_EQ(r.focus, (std::vector<std::string>{"security", "performance"}));
  EXPECT_TRUE(r.issues_parsed);
  EXPECT_EQ(r.summary, "fine.");
}

TEST(CodeAssistant, ReviewRejectsUnknownFocusAndEmptyCode) {
  testing::ScriptedGenerator gen;
  CodeReviewOptions options;
  options.focus = {"vibes"};
  EXPECT_THROW(CodeAssistant(gen).review("x = 1", options), Error);
  EXPECT_THROW(CodeAssistant(gen).review("   ", {}), Error);
  EXPECT_THROW(CodeAssistant(gen).generate("task", " "), Error);
  EXPECT_TRUE(gen.requests().empty());
}

}  // namespace
}  // namespace fp4::apps
