#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "fp4/apps/boxed_answer.h"

namespace fp4::apps {
namespace {

struct BoxCase {
  const char* name;
  std::string text;
  std::optional<std::string> expected;  // nullopt: no answer
};

class LastBoxedAnswer : public ::testing::TestWithParam<BoxCase> {};

TEST_P(LastBoxedAnswer, Extracts) {
  const BoxCase& c = GetParam();
  EXPECT_EQ(last_boxed_answer(c.text), c.expected) << "text: " << c.text;
}

const BoxCase kCases[] = {
    {"simple", R"(The answer is \boxed{5}.)", "5"},
    {"negative", R"(The answer is \boxed{-12}.)", "-12"},
    {"korean_sentence", R"(따라서 답은 \boxed{7}입니다.)", "7"},
    {"nested_frac", R"(\boxed{\frac{1}{2}})", R"(\frac{1}{2})"},
    {"deeply_nested", R"(\boxed{\sqrt{\frac{a^{2}}{b_{1}}}})", R"(\sqrt{\frac{a^{2}}{b_{1}}})"},
    {"escaped_set_braces", R"(\boxed{\{1, 2\}})", R"(\{1, 2\})"},
    {"escaped_close_brace_inside", R"(\boxed{\}} then)", R"(\})"},
    {"space_before_brace", R"(\boxed {42})", "42"},
    {"newline_before_brace", "\\boxed\n{42}", "42"},
    {"braceless", R"($\boxed 5$)", "5"},
    {"braceless_sentence_end", R"(so x is \boxed 5.)", "5"},
    {"braceless_decimal", R"(\boxed 3.25 is it)", "3.25"},
    {"braceless_digit_glued", R"(\boxed5)", "5"},
    {"braceless_command_argument", R"($\boxed \pi$)", R"(\pi)"},
    {"braceless_inside_group", R"(\text{\boxed 9})", "9"},
    {"fbox", R"(\fbox{12})", "12"},
    {"fbox_nested", R"(\fbox{\dfrac{3}{4}})", R"(\dfrac{3}{4})"},
    {"last_box_wins", R"(First \boxed{2}, corrected: \boxed{3}.)", "3"},
    {"last_of_fbox_and_boxed", R"(\boxed{1} and \fbox{4})", "4"},
    {"nested_box_in_box", R"(\boxed{\boxed{7}})", "7"},
    {"box_containing_two_boxes", R"(\boxed{\boxed{1}, \boxed{2}})", R"(\boxed{1}, \boxed{2})"},
    {"tuple", R"(\boxed{(1, -2)})", "(1, -2)"},
    {"interval", R"(\boxed{[0, \infty)})", R"([0, \infty))"},
    {"text_inside", R"(\boxed{\text{(C)}})", R"(\text{(C)})"},
    {"letter_choice", R"(정답은 \boxed{C}입니다.)", "C"},
    {"inner_whitespace_trimmed", R"(\boxed{  x = 3 \n })", R"(x = 3 \n)"},
    {"unicode_content", R"(\boxed{답 5})", "답 5"},
    {"in_display_math", "$$\n\\boxed{x^2 + 1}\n$$", "x^2 + 1"},
    {"no_box", "The answer is 5.", std::nullopt},
    {"empty_text", "", std::nullopt},
    {"empty_box_is_instruction", R"(put your final answer within \boxed{}.)", std::nullopt},
    {"whitespace_box", R"(\boxed{   })", std::nullopt},
    {"empty_box_after_answer", R"(\boxed{8} (remember: \boxed{}))", "8"},
    {"unbalanced_truncated", R"(The answer is \boxed{\frac{1}{2)", std::nullopt},
    {"unbalanced_last_keeps_earlier", R"(\boxed{3} but then \boxed{4)", "3"},
    {"unbalanced_first_later_complete", R"(\boxed{3 ... \boxed{4})", "4"},
    {"extra_closing_brace", R"(\boxed{5}})", "5"},
    {"other_control_word", R"(\boxedtext{5})", std::nullopt},
    {"boxed_at_end", R"(answer: \boxed)", std::nullopt},
    {"boxed_then_dollar", R"($\boxed$)", std::nullopt},
    {"braceless_across_line_is_not_box", "\\boxed\n5", std::nullopt},
    {"double_backslash_prefix", R"(\\boxed{6})", "6"},
    {"percent", R"(\boxed{25\%})", R"(25\%)"},
    {"reasoning_then_answer", "<think>\nmaybe \\boxed{4}\n</think>\n\nThe answer is \\boxed{5}.", "5"},
};

INSTANTIATE_TEST_SUITE_P(Cases, LastBoxedAnswer, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<BoxCase>& info) { return std::string(info.param.name); });

TEST(FindBoxed, ReportsEveryTopLevelBoxWithOffsets) {
  const std::string text = R"(a \boxed{1} b \fbox{\frac{2}{3}} c \boxed 4.)";
  const std::vector<BoxedSpan> boxes = find_boxed(text);
  ASSERT_EQ(boxes.size(), 3u);
  EXPECT_EQ(boxes[0].content, "1");
  EXPECT_EQ(text.substr(boxes[0].begin, boxes[0].end - boxes[0].begin), R"(\boxed{1})");
  EXPECT_TRUE(boxes[0].braced);
  EXPECT_EQ(boxes[1].content, R"(\frac{2}{3})");
  EXPECT_EQ(text.substr(boxes[1].begin, boxes[1].end - boxes[1].begin), R"(\fbox{\frac{2}{3}})");
  EXPECT_EQ(boxes[2].content, "4");
  EXPECT_FALSE(boxes[2].braced);
  EXPECT_EQ(text.substr(boxes[2].begin, boxes[2].end - boxes[2].begin), R"(\boxed 4)");
}

TEST(FindBoxed, NestedBoxesAreNotReportedSeparately) {
  const std::vector<BoxedSpan> boxes = find_boxed(R"(\boxed{\boxed{1} + \boxed{2}})");
  ASSERT_EQ(boxes.size(), 1u);
  EXPECT_EQ(boxes[0].content, R"(\boxed{1} + \boxed{2})");
}

TEST(FindBoxed, TrailingBackslashDoesNotReadPastTheEnd) {
  EXPECT_TRUE(find_boxed("\\").empty());
  EXPECT_TRUE(find_boxed("\\boxed{\\").empty());
  EXPECT_TRUE(find_boxed("\\fbo").empty());
}

}  // namespace
}  // namespace fp4::apps
