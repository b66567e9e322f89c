// Multiple-choice answers (MMLU-Pro's A–J, GPQA's A–D): which option letter did the model pick?
//
// Evidence is read in order of strength, and within one kind the last mention wins (a model that
// reconsiders states its final choice last):
//   1. the last \boxed{} / \fbox{} whose content is one letter: \boxed{C}, \boxed{(C)}, \boxed{\text{C}},
//      \boxed{C. 42};
//   2. an answer statement: "The answer is (C)", "Answer: C.", "answer is **C**", "correct option is C",
//      "답: C", "정답은 C입니다", "정답: (C)";
//   3. a bold letter: "**C**", "**(C)**", "**C.**";
//   4. a line that is only the letter: "(C)", "C", "C.", "C)".
// A letter counts only when it stands alone (not the start of a word: "A good idea" is no answer) and is
// one of the first `num_options` letters.
#pragma once

#include <optional>
#include <string_view>

namespace fp4::eval {

std::optional<char> extract_choice_letter(std::string_view text, int num_options);

}  // namespace fp4::eval
