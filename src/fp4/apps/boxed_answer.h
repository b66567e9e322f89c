// Final answers written as LaTeX boxes: `\boxed{...}` (the DeepSeek-R1 / MATH convention) and `\fbox{...}`.
// The math solver, the tutor and the evaluation scorers all read answers through these functions, so one
// rule decides what "the model's answer" is everywhere.
//
// Rules (each has a unit test):
// - The argument is brace-balanced: `\boxed{\frac{1}{2}}` gives `\frac{1}{2}`. Escaped braces `\{` `\}`
//   (LaTeX sets) are text, not grouping: `\boxed{\{1, 2\}}` gives `\{1, 2\}`.
// - Whitespace may separate the command from its brace: `\boxed {5}`.
// - The brace-less form `\boxed 5` takes the run of text up to whitespace, `$`, or the end, minus trailing
//   sentence punctuation (`\boxed 5.` gives `5`), as MATH's reference scorer reads it.
// - `\boxedfoo` is a different control word and is not a box.
// - A box whose closing brace never comes (a generation cut off mid-answer) is not an answer.
// - A box that holds only whitespace (an instruction echoed back: "within \boxed{}") is not an answer.
// - Boxes nested in a box belong to it; of the top-level boxes the last one wins. A box whose whole
//   content is another box is unwrapped (`\boxed{\boxed{7}}` gives `7`).
// The content is returned with surrounding whitespace trimmed and otherwise unchanged: normalising it
// (`\dfrac`, units, `\text{}`) is answer equivalence's job, not extraction's.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::apps {

struct BoxedSpan {
  std::string content;   // the answer inside the box, trimmed
  size_t begin = 0;      // byte offset of the backslash that starts the command
  size_t end = 0;        // byte offset one past the box (after its closing brace or last character)
  bool braced = true;    // false for the `\boxed 5` form
};

// Every complete, non-empty top-level box in order of appearance.
std::vector<BoxedSpan> find_boxed(std::string_view text);

// The last complete, non-empty box's content, or nullopt when the text has none.
std::optional<std::string> last_boxed_answer(std::string_view text);

}  // namespace fp4::apps
