// Fenced code blocks in Markdown, as models write them: ``` or ~~~ fences of any length (three or more),
// any language tag (```python, ```c++, ```{.rust}, none), several blocks, fences indented inside list
// items, and a last block whose closing fence never came (a generation cut off by max_tokens).
//
// The rules follow CommonMark where models follow it: a closing fence uses the opening fence's character
// and is at least as long; a backtick fence's info string holds no backtick (so "```x```" on one line is
// inline code, not a fence); the opening fence's indentation is removed from the block's lines. Unlike
// CommonMark, fences indented four or more spaces still count (models indent them inside nested lists).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fp4::apps {

struct CodeBlock {
  std::string language;  // the info string's first word, lowercased, braces and a leading dot removed
  std::string code;      // the lines between the fences, joined by '\n' (no trailing newline)
  bool terminated = true;  // false: the text ended before the closing fence
};

std::vector<CodeBlock> extract_code_blocks(std::string_view markdown);

// The canonical name of a language tag or language name: "py"/"python3" → "python", "c++"/"cxx" → "cpp",
// "js" → "javascript", "sh"/"shell" → "bash", ...; an unknown tag is returned lowercased.
std::string canonical_language(std::string_view tag);

// How a language is written in prose: "cpp" → "C++", "javascript" → "JavaScript"; unknown → as given.
std::string language_display_name(std::string_view language);

// The blocks that hold code in `language`: those tagged with it (any alias), else the untagged ones, else
// all. Their code is joined by a blank line; empty when there is no block.
std::string select_code(const std::vector<CodeBlock>& blocks, std::string_view language);

}  // namespace fp4::apps
