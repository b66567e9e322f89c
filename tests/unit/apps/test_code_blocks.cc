#include <gtest/gtest.h>

#include "fp4/apps/code_blocks.h"

namespace fp4::apps {
namespace {

TEST(CodeBlocks, PythonBlock) {
  const auto blocks = extract_code_blocks("Here:\n```python\ndef f():\n    return 1\n```\nDone.");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].language, "python");
  EXPECT_EQ(blocks[0].code, "def f():\n    return 1");
  EXPECT_TRUE(blocks[0].terminated);
}

TEST(CodeBlocks, CppTagKeepsPunctuation) {
  const auto blocks = extract_code_blocks("```c++\nint main() {}\n```");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].language, "c++");
  EXPECT_EQ(canonical_language(blocks[0].language), "cpp");
}

TEST(CodeBlocks, TildeFence) {
  const auto blocks = extract_code_blocks("~~~rust\nfn main() {}\n~~~\n");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].language, "rust");
  EXPECT_EQ(blocks[0].code, "fn main() {}");
}

TEST(CodeBlocks, NoTag) {
  const auto blocks = extract_code_blocks("```\nx = 1\n```");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].language, "");
  EXPECT_EQ(blocks[0].code, "x = 1");
}

TEST(CodeBlocks, SeveralBlocksInOrder) {
  const auto blocks =
      extract_code_blocks("Install:\n```bash\npip install numpy\n```\nThen:\n```python\nimport numpy\n```\n");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].language, "bash");
  EXPECT_EQ(blocks[0].code, "pip install numpy");
  EXPECT_EQ(blocks[1].language, "python");
  EXPECT_EQ(blocks[1].code, "import numpy");
}

TEST(CodeBlocks, UnterminatedFinalFence) {
  const auto blocks = extract_code_blocks("```python\ndef f():\n    return 1\n```\n\n```python\ndef g():\n    retu");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_TRUE(blocks[0].terminated);
  EXPECT_FALSE(blocks[1].terminated);
  EXPECT_EQ(blocks[1].code, "def g():\n    retu");
}

TEST(CodeBlocks, UnterminatedWithTrailingNewlineDropsOnlyTheFinalEmptyLine) {
  const auto blocks = extract_code_blocks("```go\npackage main\n\n");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_FALSE(blocks[0].terminated);
  EXPECT_EQ(blocks[0].code, "package main\n");
}

TEST(CodeBlocks, IndentedFenceInListItemIsDedented) {
  const auto blocks = extract_code_blocks("1. Do this:\n    ```js\n    console.log(1);\n      nested();\n    ```\n");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].language, "js");
  EXPECT_EQ(blocks[0].code, "console.log(1);\n  nested();");
}

TEST(CodeBlocks, LongerFenceContainsShorterOne) {
  const auto blocks = extract_code_blocks("````markdown\n```python\nx\n```\n````");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].language, "markdown");
  EXPECT_EQ(blocks[0].code, "```python\nx\n```");
}

TEST(CodeBlocks, ClosingFenceMustMatchCharacter) {
  const auto blocks = extract_code_blocks("```\na\n~~~\nb\n```");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].code, "a\n~~~\nb");
}

TEST(CodeBlocks, ClosingFenceWithInfoIsContent) {
  const auto blocks = extract_code_blocks("```\na\n```python\nb\n```");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].code, "a\n```python\nb");
}

TEST(CodeBlocks, InlineTripleBackticksAreNotAFence) {
  EXPECT_TRUE(extract_code_blocks("Use ```x``` inline.").empty());
  EXPECT_TRUE(extract_code_blocks("```x``` at line start").empty());
}

TEST(CodeBlocks, InfoStringFirstWordAndPandocAttributes) {
  auto blocks = extract_code_blocks("```Python title=\"a.py\"\nx\n```\n```{.rust}\ny\n```");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].language, "python");
  EXPECT_EQ(blocks[1].language, "rust");
}

TEST(CodeBlocks, CrLfLines) {
  const auto blocks = extract_code_blocks("```python\r\nx = 1\r\n```\r\n");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].code, "x = 1");
}

TEST(CodeBlocks, EmptyBlock) {
  const auto blocks = extract_code_blocks("```python\n```");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].code, "");
  EXPECT_TRUE(blocks[0].terminated);
}

TEST(CodeBlocks, NoFences) { EXPECT_TRUE(extract_code_blocks("just prose\nand more").empty()); }

TEST(CanonicalLanguage, Aliases) {
  EXPECT_EQ(canonical_language("py"), "python");
  EXPECT_EQ(canonical_language("Python3"), "python");
  EXPECT_EQ(canonical_language("C++"), "cpp");
  EXPECT_EQ(canonical_language("cxx"), "cpp");
  EXPECT_EQ(canonical_language("js"), "javascript");
  EXPECT_EQ(canonical_language("sh"), "bash");
  EXPECT_EQ(canonical_language("golang"), "go");
  EXPECT_EQ(canonical_language("c#"), "csharp");
  EXPECT_EQ(canonical_language("zig"), "zig");
  EXPECT_EQ(language_display_name("cpp"), "C++");
  EXPECT_EQ(language_display_name("py"), "Python");
  EXPECT_EQ(language_display_name("Zig"), "Zig");
}

TEST(SelectCode, PrefersTheRequestedLanguageByAlias) {
  const auto blocks = extract_code_blocks("```bash\npip install x\n```\n```py\na = 1\n```\n```python3\nb = 2\n```");
  EXPECT_EQ(select_code(blocks, "python"), "a = 1\n\nb = 2");
}

TEST(SelectCode, FallsBackToUntaggedThenAll) {
  auto blocks = extract_code_blocks("```text\nout\n```\n```\nuntagged\n```");
  EXPECT_EQ(select_code(blocks, "python"), "untagged");
  blocks = extract_code_blocks("```text\nout\n```");
  EXPECT_EQ(select_code(blocks, "python"), "out");
  EXPECT_EQ(select_code({}, "python"), "");
}

}  // namespace
}  // namespace fp4::apps
