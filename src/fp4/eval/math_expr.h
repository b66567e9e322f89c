// A small numeric evaluator for the scalar part of a math answer: + - * / ^, unary signs, implicit
// multiplication (2\sqrt{3}, 3\pi, 2(x+1)), \frac{a}{b}, \sqrt{a}, \sqrt[n]{a}, \pi, \infty, decimals,
// percentages and single-letter variables. No symbolic algebra: an expression with variables is compared
// by evaluating it at fixed points (see math_equiv.cc), which decides polynomial and rational identities
// with probability one for generic points.
//
// Numbers stay exact rationals (128-bit numerator and denominator) as long as every operation keeps them
// rational and in range; sqrt of a non-square, \pi, a non-integer power or an overflow turn a value into an
// approximate double. The input must already be cleaned by math_equiv (no `$`, `\left`, `\text{}`, units).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fp4::eval::math {

struct Number {
  double value = 0.0;       // always set (±inf for infinities)
  bool exact = true;        // value == num / den exactly
  __int128 num = 0;         // valid when exact; den > 0, gcd(num, den) = 1
  __int128 den = 1;
  bool has_decimal = false;  // a decimal literal (0.5) took part: compare rounded, as a float answer
  // Set only for a lone integer percentage ("50%"): the integer before the sign. value is p / 100.
  std::optional<int64_t> percent_of_integer;

  static Number integer(int64_t v);
  static Number approximate(double v);
  bool is_integer() const { return exact && den == 1; }
};

// Parses and evaluates `text` with the given values for single-letter variables. Returns nullopt when the
// text is not an expression this evaluator understands (the caller then falls back to comparing text), or
// when it uses a variable that `variables` does not give.
std::optional<Number> evaluate(std::string_view text, const std::map<char, double>& variables = {});

// The single-letter variables `text` uses, in alphabetical order (e.g. "xy"); nullopt when it does not parse.
std::optional<std::string> variables_of(std::string_view text);

}  // namespace fp4::eval::math
