// Math answer equivalence: one case per rule of math_equiv.h. The broad check against math-verify is the
// corpus test (tests/python/test_math_equiv_agreement.py); these pin the rules individually.
#include <gtest/gtest.h>

#include <cmath>

#include "fp4/eval/math_equiv.h"
#include "fp4/eval/math_expr.h"

namespace fp4::eval {
namespace {

struct Pair {
  const char* reference;
  const char* predicted;
};

void expect_equal(std::initializer_list<Pair> pairs) {
  for (const auto& p : pairs) EXPECT_TRUE(math_answers_equal(p.reference, p.predicted)) << p.reference << " vs " << p.predicted;
}
void expect_different(std::initializer_list<Pair> pairs) {
  for (const auto& p : pairs) EXPECT_FALSE(math_answers_equal(p.reference, p.predicted)) << p.reference << " vs " << p.predicted;
}

TEST(MathExpr, EvaluatesExactRationals) {
  const auto v = math::evaluate("\\frac{1}{2}+\\frac13");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->exact);
  EXPECT_EQ(static_cast<int64_t>(v->num), 5);
  EXPECT_EQ(static_cast<int64_t>(v->den), 6);
  const auto s = math::evaluate("\\sqrt{72}");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->exact);
  EXPECT_NEAR(s->value, 6 * std::sqrt(2.0), 1e-12);
  const auto r = math::evaluate("\\sqrt[3]{27}");
  ASSERT_TRUE(r && r->is_integer());
  EXPECT_EQ(static_cast<int64_t>(r->num), 3);
  EXPECT_FALSE(math::evaluate("1/0"));
  EXPECT_FALSE(math::evaluate("2+"));
  EXPECT_EQ(*math::variables_of("2x^2+y"), "xy");
}

TEST(MathEquiv, FractionsDecimalsPercentages) {
  expect_equal({{"\\frac{1}{2}", "0.5"}, {"\\dfrac{3}{4}", "3/4"}, {"\\tfrac12", "\\frac{1}{2}"}, {"50\\%", "0.5"},
                {"50\\%", "50"}, {"20\\%", "\\frac{1}{5}"}, {"12.5\\%", "0.125"}, {"2.50", "\\frac{5}{2}"},
                {"0.3333333", "\\frac13"}, {"-\\frac{3}{4}", "-0.75"}, {"\\frac{3}{-4}", "-0.75"}, {"1,000", "1000"},
                {"1{,}000{,}000", "1000000"}, {"3.0", "3"}, {"\\frac{14}{3}", "4\\frac{2}{3}"},
                {"-\\frac{14}{3}", "-4\\frac{2}{3}"}, {"\\frac{8}{3}", "4 * \\frac{2}{3}"}});
  expect_different({{"12.5\\%", "12.5"}, {"0.333", "1/3"}, {"1/3", "0.33"}, {"100", "99.99"}, {"1.50001", "1.5"}});
}

TEST(MathEquiv, RootsPiAndScientificNotation) {
  expect_equal({{"2\\sqrt{2}", "\\sqrt{8}"}, {"\\sqrt{2}/2", "\\frac{1}{\\sqrt2}"}, {"2^{1/2}", "\\sqrt2"},
                {"\\sqrt{3}", "1.732051"}, {"2\\pi", "6.283185307"}, {"\\pi r^2", "r^2\\pi"},
                {"1.2\\times 10^{4}", "12000"}, {"10^{-3}", "0.001"}, {"3\\cdot 10^2", "300"}, {"\\pi", "π"}});
  expect_different({{"\\pi", "3.14159"}, {"\\sqrt{3}", "1.732"}, {"\\frac{22}{7}", "\\pi"}});
}

TEST(MathEquiv, SetsTuplesIntervals) {
  expect_equal({{"\\{1,2\\}", "\\{2,1\\}"}, {"3,5", "5,3"}, {"\\{3\\}", "3"}, {"[1,2)", "[1, 2)"},
                {"(-\\infty, 3]", "(-∞,3]"}, {"\\left(1,2\\right)", "(1,2)"}, {"(1,2)", "\\{1,2\\}"},
                {"\\pm 2", "2,-2"}, {"1\\pm\\sqrt{2}", "1-\\sqrt2, 1+\\sqrt2"}});
  expect_different({{"(1,2)", "(2,1)"}, {"[1,2)", "(1,2]"}, {"[1,2]", "\\{1,2\\}"}, {"(1,2,3)", "(3,2,1)"},
                    {"\\infty", "-\\infty"}, {"\\{1,2\\}", "\\{1,2,3\\}"}});
}

TEST(MathEquiv, TextUnitsDegreesEquations) {
  expect_equal({{"10\\text{ cm}", "10"}, {"10", "10 cm"}, {"5", "5 apples"}, {"\\$12.50", "12.5"}, {"45^\\circ", "45"},
                {"45°", "45"}, {"\\text{(C)}", "C"}, {"\\textbf{(B)}", "B"}, {"\\text{Yes}", "yes"}, {"x=3", "3"},
                {"5", "k = 5"}, {"y=2x+1", "2x+1"}, {"x \\in [1,2]", "[1,2]"}, {"x=-2, x=3", "-2,3"},
                {"\\boldsymbol{7}", "7"}, {"7.", "7"}, {"100\\text{ cm}^2", "100"},
                {"27\\text{ m}^{3}", "27"}});
  expect_different({{"x=2", "y=2"}, {"\\text{even}", "\\text{odd}"}, {"\\text{5 apples}", "5"}, {"", ""}});
}

TEST(MathEquiv, ExpressionsWithVariables) {
  expect_equal({{"x^2-1", "(x-1)(x+1)"}, {"2x+1", "1+2x"}, {"\\frac{1}{2}x", "x/2"}, {"a+b", "b+a"}, {"2a", "a+a"}});
  expect_different({{"x^2+1", "x^2-1"}, {"x", "y"}, {"2x", "2y"}});
}

TEST(MathEquiv, MalformedInputIsUnequalNotAnError) {
  expect_different({{"\\frac{1}{", "1"}, {"((((", "((("}, {"\\sqrt{-4}", "2"}, {"}", "{"}});
  EXPECT_TRUE(math_answers_equal("\\unknown{x}", "\\unknown{x}"));  // same text, nothing to evaluate
  std::string deep(5000, '(');
  EXPECT_FALSE(math_answers_equal(deep, "1"));
}

}  // namespace
}  // namespace fp4::eval
