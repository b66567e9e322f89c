// Math answer equivalence: does a model's final answer (the content of its last \boxed{}) denote the same
// thing as the reference answer? The rules follow Hugging Face math-verify (the reference the test
// corpus tests/data/math_equiv_pairs.jsonl is checked against; see docs/eval.md) without a computer
// algebra system:
//
//   * cleaning: `$`, `\$`, \left/\right, spacing commands, \displaystyle, \text{}/\mbox{} units after a
//     number, degrees (^\circ, °), \dfrac/\tfrac → \frac, \cdot/\times → *, thousands separators (1,000 and
//     1{,}000), a trailing period, π ∞ − × ÷ √ ± in Unicode;
//   * structure: sets \{a, b\} and bare lists "a, b" (order-free), tuples (a, b, c) (ordered), intervals
//     [a, b), (−\infty, 3] (open (a, b) also matches the tuple and the two-element set), ± (a set of two),
//     equations "x = 3" (the right side is compared when only one side is an equation);
//   * numbers: exact rationals where possible (1/2 = \frac{1}{2} = 0.5 = 50%); when either side was
//     written with a decimal point both are rounded to 6 decimals (0.333333 = 1/3, π ≠ 3.14159), as
//     math-verify rounds a float answer; irrational values (\sqrt{8}, 2\pi) compare to 1e-12 relative;
//     an integer percentage also matches the bare integer (50% = 50);
//   * expressions with single-letter variables: equal when they agree at fixed sample points;
//   * text answers (\text{yes}, (C)): case-insensitive for words, exact for single letters.
#pragma once

#include <string>
#include <string_view>

namespace fp4::eval {

// True when `predicted` is equivalent to `reference`. Like math-verify, the reference decides the form:
// a reference "x = 3" accepts "3", and a predicted "k = 3" is reduced to "3" for a reference "3".
bool math_answers_equal(std::string_view reference, std::string_view predicted);

// The cleaned form the comparison starts from (for reports and debugging): "\dfrac{1}{2}\text{ cm}." →
// "\frac{1}{2}".
std::string clean_math_answer(std::string_view answer);

}  // namespace fp4::eval
