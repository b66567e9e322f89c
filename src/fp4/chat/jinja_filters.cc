// Jinja's built-in filters and tests (the subset chat templates use), with transformers' `tojson`
// (json.dumps with ensure_ascii=False by default and indent/separators/sort_keys options).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "fp4/chat/jinja_builtins.h"
#include "fp4/chat/jinja_interpreter.h"
#include "fp4/chat/jinja_operations.h"
#include "fp4/chat/unicode_text.h"

namespace fp4::chat::jinja {

namespace {

using unicode::decode;
using unicode::encode;

// soft_str: strings stay, undefined becomes "", everything else str().
std::string text_of(const Value& v) { return to_str(v); }

bool flag(const std::optional<Value>& v, bool fallback) { return v ? v->truthy() : fallback; }

std::vector<Value> sequence_of(const Value& v) { return iterate(v); }

Value call_method(Interpreter& interp, const Value& self, std::string_view name, CallArgs args) {
  return interp.call(get_attribute(self, name), args);
}

// Attribute lookup with dots ("a.b") or integer parts, as Jinja's make_attrgetter.
Value attribute_path(const Value& item, const Value& attribute) {
  if (attribute.is_int()) return get_item(item, attribute);
  Value current = item;
  const std::string path = text_of(attribute);
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    current = numeric ? get_item(current, Value::integer(index_from_digits(part))) : get_item(current, Value::string(part));
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

// Sort key: lower-cased strings unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) {
    std::u32string cps = decode(v.as_string());
    for (char32_t& c : cps) c = unicode::to_lower(c);
    return Value::string(encode(cps));
  }
  return v;
}

Value filter_abs(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("abs", args, {});
  if (v.is_float()) return Value::floating(std::fabs(v.as_double()));
  if (v.is_number()) return binary_operation("*", v, Value::integer(v.as_int() < 0 ? -1 : 1));
  throw_error(fmt::format("bad operand type for abs(): '{}'", v.type_name()));
}

Value filter_attr(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("attr", args, {"name"});
  return get_attribute(v, text_of(a[0].value_or(Value::string(""))));
}

Value filter_capitalize(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("capitalize", args, {});
  return Value::string(encode(unicode::capitalize(decode(text_of(v)))));
}

Value filter_center(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("center", args, {"width"});
  const std::u32string cps = decode(text_of(v));
  const int64_t width = a[0] ? a[0]->as_int() : 80;
  if (width <= static_cast<int64_t>(cps.size())) return Value::string(text_of(v));
  const size_t total = static_cast<size_t>(width) - cps.size();
  // Python's str.center puts the extra space on the right when the text length is even... on the left
  // when odd: left = total/2 + (total & width & 1).
  const size_t left = total / 2 + (total & static_cast<size_t>(width) & 1);
  return Value::string(std::string(left, ' ') + text_of(v) + std::string(total - left, ' '));
}

Value filter_default(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("default", args, {"default_value", "boolean"});
  if (v.is_undefined() || (flag(a[1], false) && !v.truthy())) return a[0].value_or(Value::string(""));
  return v;
}

Value filter_dictsort(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("dictsort", args, {"case_sensitive", "by", "reverse"});
  if (!v.is_dict()) throw_error("dictsort() needs a mapping");
  const bool case_sensitive = flag(a[0], false);
  const std::string by = a[1] ? text_of(*a[1]) : "key";
  if (by != "key" && by != "value") throw_error("You can only sort by either 'key' or 'value'");
  std::vector<Value> pairs;
  for (const auto& [k, val] : v.as_dict().items) pairs.push_back(Value::list({k, val}, true));
  const size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& x, const Value& y) {
    return less_than(sort_key(x.as_list().items[pos], case_sensitive), sort_key(y.as_list().items[pos], case_sensitive));
  });
  if (flag(a[2], false)) std::reverse(pairs.begin(), pairs.end());
  return Value::list(std::move(pairs));
}

Value filter_escape(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("escape", args, {});
  if (v.is_markup()) return v;
  return Value::markup(html_escape(text_of(v)));
}

Value filter_forceescape(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("forceescape", args, {});
  return Value::markup(html_escape(text_of(v)));
}

Value filter_first(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("first", args, {});
  const auto items = sequence_of(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value filter_last(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("last", args, {});
  if (v.is_list() && v.as_list().is_iterator()) throw_error(fmt::format("'{}' object is not reversible", v.as_list().view));
  const auto items = sequence_of(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

std::optional<double> parse_python_float(std::string text) {
  std::string trimmed;
  for (char c : text) {
    if (c != '_') trimmed.push_back(c);
  }
  const size_t b = trimmed.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return std::nullopt;
  trimmed = trimmed.substr(b, trimmed.find_last_not_of(" \t\n\r\f\v") - b + 1);
  char* end = nullptr;
  const double d = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size() || trimmed.empty()) return std::nullopt;
  return d;
}

Value filter_float(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("float", args, {"default"});
  const Value fallback = a[0].value_or(Value::floating(0.0));
  if (v.is_number()) return Value::floating(v.as_double());
  if (v.is_string()) {
    if (auto d = parse_python_float(v.as_string())) return Value::floating(*d);
  }
  return fallback;
}

Value filter_int(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("int", args, {"default", "base"});
  const Value fallback = a[0].value_or(Value::integer(0));
  const int base = static_cast<int>(a[1] ? a[1]->as_int() : 10);
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double d = std::trunc(v.as_double());
    if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    std::string s;
    for (char c : v.as_string()) {
      if (c != '_') s.push_back(c);
    }
    const size_t b = s.find_first_not_of(" \t\n\r\f\v");
    if (b != std::string::npos) {
      s = s.substr(b, s.find_last_not_of(" \t\n\r\f\v") - b + 1);
      char* end = nullptr;
      errno = 0;
      const long long parsed = std::strtoll(s.c_str(), &end, base);
      if (errno == 0 && end == s.c_str() + s.size() && !s.empty()) return Value::integer(parsed);
      if (auto d = parse_python_float(s)) {
        if (std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value::integer(static_cast<int64_t>(std::trunc(*d)));
      }
    }
  }
  return fallback;
}

Value filter_indent(Interpreter& interp, const Value& v, CallArgs& args) {
  auto a = bind_arguments("indent", args, {"width", "first", "blank"});
  std::string indentation = "    ";
  if (a[0]) {
    indentation = a[0]->is_string() ? a[0]->as_string()
                                    : std::string(static_cast<size_t>(std::clamp<int64_t>(a[0]->as_int(), 0, 1024)), ' ');
  }
  // Jinja appends a newline before str.splitlines() so that a trailing line break survives.
  const Value lines_value = call_method(interp, Value::string(text_of(v) + "\n"), "splitlines", {});
  const auto& lines = lines_value.as_list().items;
  std::string out;
  if (flag(a[2], false)) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out.append("\n").append(indentation);
      out += lines[i].as_string();
    }
  } else {
    out = lines.empty() ? "" : lines[0].as_string();
    for (size_t i = 1; i < lines.size(); ++i) {
      const std::string& line = lines[i].as_string();
      out += '\n';
      if (!line.empty()) out.append(indentation).append(line);
    }
  }
  if (flag(a[1], false)) out = indentation + out;
  return Value::string(std::move(out));
}

Value filter_items(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("items", args, {});
  if (v.is_undefined()) return Value::view({}, "generator");
  if (!v.is_dict()) throw_error("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, val] : v.as_dict().items) out.push_back(Value::list({k, val}, true));
  return Value::view(std::move(out), "generator");
}

Value filter_join(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("join", args, {"d", "attribute"});
  const std::string separator = a[0] ? text_of(*a[0]) : "";
  std::string out;
  bool first = true;
  for (const Value& item : sequence_of(v)) {
    if (!first) out += separator;
    first = false;
    out += text_of(a[1] ? attribute_path(item, *a[1]) : item);
    if (out.size() > kMaxBuiltSize) throw_error("join result is too large");
  }
  return Value::string(std::move(out));
}

Value filter_length(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("length", args, {});
  switch (v.kind()) {
    case Value::Kind::kUndefined: return Value::integer(0);
    case Value::Kind::kString: return Value::integer(static_cast<int64_t>(decode(v.as_string()).size()));
    case Value::Kind::kList:
      if (v.as_list().is_iterator()) throw_error(fmt::format("object of type '{}' has no len()", v.as_list().view));
      return Value::integer(static_cast<int64_t>(v.as_list().items.size()));
    case Value::Kind::kDict: return Value::integer(static_cast<int64_t>(v.as_dict().items.size()));
    default: throw_error(fmt::format("object of type '{}' has no len()", v.type_name()));
  }
}

Value filter_list(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("list", args, {});
  return Value::list(sequence_of(v));
}

Value filter_lower(Interpreter& interp, const Value& v, CallArgs& args) {
  bind_arguments("lower", args, {});
  return call_method(interp, Value::string(text_of(v)), "lower", {});
}

Value filter_upper(Interpreter& interp, const Value& v, CallArgs& args) {
  bind_arguments("upper", args, {});
  return call_method(interp, Value::string(text_of(v)), "upper", {});
}

Value filter_map(Interpreter& interp, const Value& v, CallArgs& args) {
  std::vector<Value> out;
  if (!v.truthy()) return Value::view({}, "generator");  // Jinja: `if value:` before iterating
  const Value* attribute = nullptr;
  const Value* fallback = nullptr;
  for (const auto& [name, value] : args.keywords) {
    if (name == "attribute") attribute = &value;
    else if (name == "default") fallback = &value;
  }
  if (attribute != nullptr) {
    for (const Value& item : sequence_of(v)) {
      Value x = attribute_path(item, *attribute);
      out.push_back(x.is_undefined() && fallback != nullptr ? *fallback : x);
    }
    return Value::view(std::move(out), "generator");
  }
  if (args.positional.empty()) throw_error("map requires a filter argument");
  const std::string filter = text_of(args.positional[0]);
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keywords = args.keywords;
  for (const Value& item : sequence_of(v)) {
    CallArgs copy = rest;
    out.push_back(interp.apply_filter(filter, item, copy));
  }
  return Value::view(std::move(out), "generator");
}

Value extreme(const Value& v, CallArgs& args, bool want_max) {
  auto a = bind_arguments(want_max ? "max" : "min", args, {"case_sensitive", "attribute"});
  const auto items = sequence_of(v);
  if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
  const bool cs = flag(a[0], false);
  auto key = [&](const Value& x) { return sort_key(a[1] ? attribute_path(x, *a[1]) : x, cs); };
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    if (want_max ? less_than(key(items[best]), key(items[i])) : less_than(key(items[i]), key(items[best]))) best = i;
  }
  return items[best];
}
Value filter_max(Interpreter&, const Value& v, CallArgs& args) { return extreme(v, args, true); }
Value filter_min(Interpreter&, const Value& v, CallArgs& args) { return extreme(v, args, false); }

// select/reject(seq, test, *args) and selectattr/rejectattr(seq, attr, test, *args).
Value select_items(Interpreter& interp, const Value& v, CallArgs& args, bool by_attribute, bool keep_matching) {
  size_t next = 0;
  std::optional<Value> attribute;
  if (by_attribute) {
    if (args.positional.empty()) throw_error("selectattr/rejectattr need an attribute name");
    attribute = args.positional[next++];
  }
  std::optional<std::string> test;
  if (next < args.positional.size()) test = text_of(args.positional[next++]);
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<long>(next), args.positional.end());
  test_args.keywords = args.keywords;
  std::vector<Value> out;
  if (!v.truthy()) return Value::view({}, "generator");  // Jinja: `if value:` before iterating
  for (const Value& item : sequence_of(v)) {
    const Value subject = attribute ? attribute_path(item, *attribute) : item;
    CallArgs copy = test_args;
    const bool passed = test ? interp.apply_test(*test, subject, copy) : subject.truthy();
    if (passed == keep_matching) out.push_back(item);
  }
  return Value::view(std::move(out), "generator");
}
Value filter_select(Interpreter& i, const Value& v, CallArgs& a) { return select_items(i, v, a, false, true); }
Value filter_reject(Interpreter& i, const Value& v, CallArgs& a) { return select_items(i, v, a, false, false); }
Value filter_selectattr(Interpreter& i, const Value& v, CallArgs& a) { return select_items(i, v, a, true, true); }
Value filter_rejectattr(Interpreter& i, const Value& v, CallArgs& a) { return select_items(i, v, a, true, false); }

Value filter_replace(Interpreter& interp, const Value& v, CallArgs& args) {
  auto a = bind_arguments("replace", args, {"old", "new", "count"});
  CallArgs forwarded;
  forwarded.positional.push_back(Value::string(a[0] ? text_of(*a[0]) : ""));
  forwarded.positional.push_back(Value::string(a[1] ? text_of(*a[1]) : ""));
  if (a[2] && !a[2]->is_none()) forwarded.positional.push_back(*a[2]);
  return call_method(interp, Value::string(text_of(v)), "replace", forwarded);
}

Value filter_reverse(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("reverse", args, {});
  if (v.is_string()) return get_slice(v, std::nullopt, std::nullopt, -1);
  auto items = sequence_of(v);
  std::reverse(items.begin(), items.end());
  return Value::view(std::move(items), "list_reverseiterator");
}

Value filter_round(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("round", args, {"precision", "method"});
  const int64_t precision = a[0] ? a[0]->as_int() : 0;
  const std::string method = a[1] ? text_of(*a[1]) : "common";
  if (!v.is_number()) throw_error(fmt::format("type {} doesn't define __round__ method", v.type_name()));
  if (method == "common") {
    if (!v.is_float()) return Value::integer(v.as_int());  // round(int, n) stays an int
    // Python's round() is correctly rounded from the exact binary value, ties to even; printf with a
    // precision does the same conversion.
    if (precision < 0 || precision > 300) return Value::floating(v.as_double());
    const std::string text = fmt::format("{:.{}f}", v.as_double(), precision);
    return Value::floating(std::strtod(text.c_str(), nullptr));
  }
  if (method != "ceil" && method != "floor") throw_error("method must be common, ceil or floor");
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  return Value::floating((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value filter_safe(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("safe", args, {});
  return v.is_markup() ? v : Value::markup(text_of(v));
}

Value filter_sort(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("sort", args, {"reverse", "case_sensitive", "attribute"});
  auto items = sequence_of(v);
  const bool cs = flag(a[1], false);
  auto key = [&](const Value& x) { return sort_key(a[2] ? attribute_path(x, *a[2]) : x, cs); };
  const bool reverse = flag(a[0], false);
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? less_than(key(y), key(x)) : less_than(key(x), key(y));
  });
  return Value::list(std::move(items));
}

Value filter_string(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("string", args, {});
  return Value::string(text_of(v));
}

Value filter_sum(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("sum", args, {"attribute", "start"});
  Value total = a[1].value_or(Value::integer(0));
  for (const Value& item : sequence_of(v)) total = binary_operation("+", total, a[0] ? attribute_path(item, *a[0]) : item);
  return total;
}

Value filter_title(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("title", args, {});
  // Jinja capitalizes the first character of each chunk after a run of [-\s({\[<] and lower-cases the rest.
  const std::u32string cps = decode(text_of(v));
  std::u32string out;
  bool word_start = true;
  for (char32_t c : cps) {
    const bool separator = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || unicode::is_space(c);
    const std::u32string one(1, c);
    out += separator ? one : word_start ? unicode::upper(one) : unicode::lower(one);
    word_start = separator;
  }
  return Value::string(encode(out));
}

Value filter_tojson(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonDumpOptions options;
  options.ensure_ascii = flag(a[0], false);
  options.sort_keys = flag(a[3], false);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      options.indent = a[1]->as_string();
    } else if (a[1]->is_int() || a[1]->is_bool()) {
      options.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(a[1]->as_int(), 0, 1024)), ' ');
    } else {
      throw_error(fmt::format("tojson indent must be an integer or a string, not {}", a[1]->type_name()));
    }
    options.item_separator = ",";
  }
  if (a[2] && !a[2]->is_none()) {
    const auto parts = sequence_of(*a[2]);
    if (parts.size() != 2 || !parts[0].is_string() || !parts[1].is_string()) {
      throw_error("tojson separators must be a pair of strings (item_separator, key_separator)");
    }
    options.item_separator = parts[0].as_string();
    options.key_separator = parts[1].as_string();
  }
  return Value::string(json_dumps(v, options));
}

Value filter_trim(Interpreter& interp, const Value& v, CallArgs& args) {
  auto a = bind_arguments("trim", args, {"chars"});
  CallArgs forwarded;
  if (a[0]) forwarded.positional.push_back(*a[0]);
  return call_method(interp, Value::string(text_of(v)), "strip", forwarded);
}

Value filter_unique(Interpreter&, const Value& v, CallArgs& args) {
  auto a = bind_arguments("unique", args, {"case_sensitive", "attribute"});
  const bool cs = flag(a[0], false);
  std::vector<Value> out, seen;
  for (const Value& item : sequence_of(v)) {
    const Value key = sort_key(a[1] ? attribute_path(item, *a[1]) : item, cs);
    bool duplicate = false;
    for (const Value& s : seen) duplicate = duplicate || equals(s, key);
    if (duplicate) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::view(std::move(out), "generator");
}

Value filter_format(Interpreter&, const Value& v, CallArgs& args) {
  if (!args.positional.empty() && !args.keywords.empty()) {
    throw_error("can't handle positional and keyword arguments at the same time");
  }
  return Value::string(percent_format(text_of(v), Value::list(args.positional, true)));
}

Value filter_wordcount(Interpreter&, const Value& v, CallArgs& args) {
  bind_arguments("wordcount", args, {});
  int64_t count = 0;
  bool in_word = false;
  for (char32_t c : decode(text_of(v))) {
    const bool word = unicode::is_alpha(c) || unicode::is_digit(c) || c == '_';
    if (word && !in_word) ++count;
    in_word = word;
  }
  return Value::integer(count);
}

const std::unordered_map<std::string_view, FilterFunction>& filter_table() {
  static const std::unordered_map<std::string_view, FilterFunction> table = {
      {"abs", filter_abs},         {"attr", filter_attr},         {"capitalize", filter_capitalize},
      {"center", filter_center},   {"count", filter_length},      {"d", filter_default},
      {"default", filter_default}, {"dictsort", filter_dictsort}, {"e", filter_escape},
      {"escape", filter_escape},   {"first", filter_first},       {"float", filter_float},
      {"forceescape", filter_forceescape}, {"format", filter_format},  {"indent", filter_indent},
      {"int", filter_int},         {"items", filter_items},       {"join", filter_join},
      {"last", filter_last},       {"length", filter_length},     {"list", filter_list},
      {"lower", filter_lower},     {"map", filter_map},           {"max", filter_max},
      {"min", filter_min},         {"reject", filter_reject},     {"rejectattr", filter_rejectattr},
      {"replace", filter_replace}, {"reverse", filter_reverse},   {"round", filter_round},
      {"safe", filter_safe},       {"select", filter_select},     {"selectattr", filter_selectattr},
      {"sort", filter_sort},       {"string", filter_string},     {"sum", filter_sum},
      {"title", filter_title},     {"tojson", filter_tojson},     {"trim", filter_trim},
      {"unique", filter_unique},   {"upper", filter_upper},       {"wordcount", filter_wordcount},
  };
  return table;
}

// ---- tests ------------------------------------------------------------------------------------------

const Value& test_argument(CallArgs& args, std::string_view test) {
  auto a = bind_arguments(test, args, {"other"});
  if (!a[0]) throw_error(fmt::format("test '{}' needs an argument", test));
  args.positional = {*a[0]};
  return args.positional[0];
}

bool no_argument(CallArgs& args, std::string_view test) {
  bind_arguments(test, args, {});
  return true;
}

bool test_defined(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "defined") && !v.is_undefined(); }
bool test_undefined(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "undefined") && v.is_undefined(); }
bool test_none(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "none") && v.is_none(); }
bool test_boolean(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "boolean") && v.is_bool(); }
bool test_false(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "false") && v.is_bool() && !v.as_bool(); }
bool test_true(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "true") && v.is_bool() && v.as_bool(); }
bool test_integer(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "integer") && v.is_int(); }
bool test_float(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "float") && v.is_float(); }
bool test_number(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "number") && v.is_number(); }
bool test_string(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "string") && v.is_string(); }
bool test_mapping(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "mapping") && v.is_dict(); }
bool test_callable(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "callable") && v.is_function(); }
bool test_iterable(Interpreter&, const Value& v, CallArgs& a) {
  return no_argument(a, "iterable") && (v.is_string() || v.is_list() || v.is_dict() || v.is_undefined());
}
bool test_sequence(Interpreter&, const Value& v, CallArgs& a) {
  return no_argument(a, "sequence") && (v.is_string() || (v.is_list() && !v.as_list().is_view()) || v.is_dict());
}
bool test_escaped(Interpreter&, const Value& v, CallArgs& a) { return no_argument(a, "escaped") && v.is_markup(); }
bool test_lower(Interpreter& i, const Value& v, CallArgs& a) {
  return no_argument(a, "lower") && call_method(i, Value::string(text_of(v)), "islower", {}).truthy();
}
bool test_upper(Interpreter& i, const Value& v, CallArgs& a) {
  return no_argument(a, "upper") && call_method(i, Value::string(text_of(v)), "isupper", {}).truthy();
}
bool test_even(Interpreter&, const Value& v, CallArgs& a) {
  no_argument(a, "even");
  if (!v.is_number()) throw_error(fmt::format("even test needs a number, not {}", v.type_name()));
  return binary_operation("%", v, Value::integer(2)).as_double() == 0;
}
bool test_odd(Interpreter&, const Value& v, CallArgs& a) {
  no_argument(a, "odd");
  if (!v.is_number()) throw_error(fmt::format("odd test needs a number, not {}", v.type_name()));
  return binary_operation("%", v, Value::integer(2)).as_double() == 1;
}
bool test_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
  const Value& n = test_argument(a, "divisibleby");
  return binary_operation("%", v, n).as_double() == 0;
}
bool test_eq(Interpreter&, const Value& v, CallArgs& a) { return equals(v, test_argument(a, "eq")); }
bool test_ne(Interpreter&, const Value& v, CallArgs& a) { return !equals(v, test_argument(a, "ne")); }
bool test_lt(Interpreter&, const Value& v, CallArgs& a) { return less_than(v, test_argument(a, "lt")); }
bool test_gt(Interpreter&, const Value& v, CallArgs& a) { return less_than(test_argument(a, "gt"), v); }
bool test_le(Interpreter&, const Value& v, CallArgs& a) { return !less_than(test_argument(a, "le"), v); }
bool test_ge(Interpreter&, const Value& v, CallArgs& a) { return !less_than(v, test_argument(a, "ge")); }
bool test_in(Interpreter&, const Value& v, CallArgs& a) { return contains(test_argument(a, "in"), v); }
bool test_sameas(Interpreter&, const Value& v, CallArgs& a) { return v.same_object(test_argument(a, "sameas")); }
bool test_filter(Interpreter&, const Value& v, CallArgs& a) {
  no_argument(a, "filter");
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
bool test_test(Interpreter&, const Value& v, CallArgs& a) {
  no_argument(a, "test");
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

const std::unordered_map<std::string_view, TestFunction>& test_table() {
  static const std::unordered_map<std::string_view, TestFunction> table = {
      {"defined", test_defined},   {"undefined", test_undefined}, {"none", test_none},
      {"boolean", test_boolean},   {"false", test_false},         {"true", test_true},
      {"integer", test_integer},   {"float", test_float},         {"number", test_number},
      {"string", test_string},     {"mapping", test_mapping},     {"callable", test_callable},
      {"iterable", test_iterable}, {"sequence", test_sequence},   {"escaped", test_escaped},
      {"lower", test_lower},       {"upper", test_upper},         {"even", test_even},
      {"odd", test_odd},           {"divisibleby", test_divisibleby}, {"eq", test_eq},
      {"equalto", test_eq},        {"==", test_eq},               {"ne", test_ne},
      {"!=", test_ne},             {"lt", test_lt},               {"lessthan", test_lt},
      {"<", test_lt},              {"gt", test_gt},               {"greaterthan", test_gt},
      {">", test_gt},              {"le", test_le},               {"<=", test_le},
      {"ge", test_ge},             {">=", test_ge},               {"in", test_in},
      {"sameas", test_sameas},     {"filter", test_filter},       {"test", test_test},
  };
  return table;
}

}  // namespace

FilterFunction find_filter(std::string_view name) {
  const auto& table = filter_table();
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

TestFunction find_test(std::string_view name) {
  const auto& table = test_table();
  auto it = table.find(name);
  return it == table.end() ? nullptr : it->second;
}

}  // namespace fp4::chat::jinja
