// Python formatting of values: what `{{ x }}`, repr() and tojson print must be byte-identical to CPython.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fp4/chat/jinja_value.h"

namespace fp4::chat::jinja {
namespace {

TEST(PythonFloatRepr, MatchesCPythonShortestRepr) {
  // Expected strings are what CPython 3.11 prints for repr(x).
  EXPECT_EQ(python_float_repr(1.0), "1.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(python_float_repr(2.5), "2.5");
  EXPECT_EQ(python_float_repr(-0.0), "-0.0");
  EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
  EXPECT_EQ(python_float_repr(1.5e16), "1.5e+16");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(python_float_repr(1.25e-7), "1.25e-07");
  EXPECT_EQ(python_float_repr(123456789.0), "123456789.0");
  EXPECT_EQ(python_float_repr(1e300 * 1.5), "1.5e+300");
  EXPECT_EQ(python_float_repr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(python_float_repr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(python_float_repr(std::nan("")), "nan");
}

TEST(PythonStringRepr, ChoosesQuotesAndEscapesLikeCPython) {
  EXPECT_EQ(python_string_repr("abc"), "'abc'");
  EXPECT_EQ(python_string_repr("it's"), "\"it's\"");
  EXPECT_EQ(python_string_repr("a'b\"c"), "'a\\'b\"c'");
  EXPECT_EQ(python_string_repr("tab\there\nnl\\"), "'tab\\there\\nnl\\\\'");
  EXPECT_EQ(python_string_repr("\x01\x7f"), "'\\x01\\x7f'");
  EXPECT_EQ(python_string_repr("한국어 é"), "'한국어 é'");
  EXPECT_EQ(python_string_repr("a\u200db"), "'a\\u200db'");  // ZERO WIDTH JOINER is not printable
  EXPECT_EQ(python_string_repr("\u00a0"), "'\\xa0'");
}

TEST(ToStr, PrintsValuesAsPythonStr) {
  EXPECT_EQ(to_str(Value::none()), "None");
  EXPECT_EQ(to_str(Value::boolean(true)), "True");
  EXPECT_EQ(to_str(Value::integer(-42)), "-42");
  EXPECT_EQ(to_str(Value::floating(3.0)), "3.0");
  EXPECT_EQ(to_str(Value::undefined("x")), "");
  const Value list = Value::list({Value::integer(1), Value::string("a"), Value::none(), Value::floating(1.5)});
  EXPECT_EQ(to_str(list), "[1, 'a', None, 1.5]");
  EXPECT_EQ(to_str(Value::list({Value::integer(1)}, true)), "(1,)");
  Dict d;
  d.set(Value::string("b"), Value::boolean(false));
  d.set(Value::string("a"), Value::list({}));
  EXPECT_EQ(to_str(Value::dict(d)), "{'b': False, 'a': []}");
}

TEST(Equality, FollowsPythonNumericTower) {
  EXPECT_TRUE(equals(Value::integer(1), Value::floating(1.0)));
  EXPECT_TRUE(equals(Value::boolean(true), Value::integer(1)));
  EXPECT_FALSE(equals(Value::string("1"), Value::integer(1)));
  EXPECT_FALSE(equals(Value::list({Value::integer(1)}), Value::list({Value::integer(1)}, true)));
  EXPECT_TRUE(equals(Value::undefined("a"), Value::undefined("b")));
  EXPECT_FALSE(equals(Value::undefined("a"), Value::none()));
  EXPECT_TRUE(less_than(Value::string("B"), Value::string("a")));
  EXPECT_THROW(less_than(Value::integer(1), Value::string("a")), RenderError);
}

Value sample_object() {
  const auto json = nlohmann::ordered_json::parse(
      R"({"name": "get_weather", "args": {"city": "서울", "n": [1, 2.5, true, null]}, "empty": {}, "list": []})");
  return Value::from_json(json);
}

TEST(JsonDumps, MatchesPythonJsonModule) {
  JsonDumpOptions plain;
  EXPECT_EQ(json_dumps(sample_object(), plain),
            R"({"name": "get_weather", "args": {"city": "서울", "n": [1, 2.5, true, null]}, "empty": {}, "list": []})");
  JsonDumpOptions ascii;
  ascii.ensure_ascii = true;
  EXPECT_EQ(json_dumps(Value::string("서😀\"\n"), ascii), R"("\uc11c\ud83d\ude00\"\n")");
  EXPECT_EQ(json_dumps(Value::string("\x01\u2028\x7f"), plain), "\"\\u0001\u2028\x7f\"");
  JsonDumpOptions indented;
  indented.indent = "  ";
  indented.item_separator = ",";
  EXPECT_EQ(json_dumps(Value::from_json(nlohmann::ordered_json::parse(R"({"b": [1, {}], "a": 2})")), indented),
            "{\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": 2\n}");
  JsonDumpOptions sorted_compact;
  sorted_compact.sort_keys = true;
  sorted_compact.item_separator = ",";
  sorted_compact.key_separator = ":";
  EXPECT_EQ(json_dumps(Value::from_json(nlohmann::ordered_json::parse(R"({"b": 1, "a": 2.0})")), sorted_compact),
            R"({"a":2.0,"b":1})");
  EXPECT_THROW(json_dumps(Value::undefined("x"), plain), RenderError);
}

TEST(FromJson, KeepsKeyOrderAndNumberKinds) {
  const Value v = sample_object();
  ASSERT_TRUE(v.is_dict());
  EXPECT_EQ(v.as_dict().items[0].first.as_string(), "name");
  EXPECT_EQ(v.as_dict().items[3].first.as_string(), "list");
  const Value* args = v.as_dict().find("args");
  ASSERT_NE(args, nullptr);
  const auto& n = args->as_dict().find("n")->as_list().items;
  EXPECT_TRUE(n[0].is_int());
  EXPECT_TRUE(n[1].is_float());
  EXPECT_TRUE(n[2].is_bool());
  EXPECT_TRUE(n[3].is_none());
  EXPECT_THROW(Value::from_json(nlohmann::ordered_json(18446744073709551615ULL)), RenderError);
}

}  // namespace
}  // namespace fp4::chat::jinja
