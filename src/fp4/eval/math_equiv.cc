#include "fp4/eval/math_equiv.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <vector>

#include "fp4/eval/math_expr.h"

namespace fp4::eval {
namespace {

using math::Number;

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

// Replaces a command and its spelling with a word boundary: "\pi" but not "\pitchfork".
void replace_command(std::string& s, std::string_view cmd, std::string_view to) {
  size_t pos = 0;
  while ((pos = s.find(cmd, pos)) != std::string::npos) {
    const size_t end = pos + cmd.size();
    if (end < s.size() && std::isalpha(static_cast<unsigned char>(s[end]))) {
      pos = end;
      continue;
    }
    s.replace(pos, cmd.size(), to);
    pos += to.size();
  }
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Index of the '}' matching the '{' at `open`, or npos.
size_t matching_brace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

// "\cmd{X}" → "X" for every occurrence (formatting that does not change the value).
void unwrap_command(std::string& s, std::string_view cmd) {
  const std::string open = std::string(cmd) + "{";
  size_t pos;
  while ((pos = s.find(open)) != std::string::npos) {
    const size_t close = matching_brace(s, pos + cmd.size());
    if (close == std::string::npos) return;
    s = s.substr(0, pos) + s.substr(pos + open.size(), close - pos - open.size()) + s.substr(close + 1);
  }
}

bool has_digit(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// \text{...} and \mbox{...}: a whole answer in text is that text; text next to a number is a unit and goes.
void handle_text(std::string& s) {
  for (std::string_view cmd : {"\\textbf", "\\textit", "\\textrm", "\\mbox", "\\text"}) {
    const std::string open = std::string(cmd) + "{";
    size_t pos;
    while ((pos = s.find(open)) != std::string::npos) {
      const size_t close = matching_brace(s, pos + cmd.size());
      if (close == std::string::npos) return;
      const std::string inner = s.substr(pos + open.size(), close - pos - open.size());
      const std::string outside = s.substr(0, pos) + s.substr(close + 1);
      const bool is_unit = has_digit(outside) && !has_digit(inner);
      size_t after = close + 1;
      if (is_unit && after < s.size() && s[after] == '^') {  // a squared or cubed unit: \text{ cm}^2, ^{3}
        if (after + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[after + 1]))) {
          after += 2;
        } else if (after + 1 < s.size() && s[after + 1] == '{') {
          const size_t end = matching_brace(s, after + 1);
          if (end != std::string::npos) after = end + 1;
        }
      }
      s = fmt::format("{}{}{}", s.substr(0, pos), is_unit ? std::string(" ") : inner, s.substr(after));
    }
  }
}

// Drops trailing unit words after a number: "10 cm", "5 apples", "12 square units". A single letter is
// kept ("2 x" is an expression).
void strip_trailing_words(std::string& s) {
  size_t end = s.size();
  size_t cut = std::string::npos;
  while (true) {
    size_t e = end;
    while (e > 0 && s[e - 1] == ' ') --e;
    size_t b = e;
    while (b > 0 && std::isalpha(static_cast<unsigned char>(s[b - 1]))) --b;
    if (e - b < 2 || b == 0 || s[b - 1] != ' ') break;
    cut = b;
    end = b;
  }
  if (cut == std::string::npos) return;
  const std::string head = trim(s.substr(0, cut));
  if (!head.empty() && has_digit(head) && (std::isdigit(static_cast<unsigned char>(head.back())) ||
                                           head.back() == '}' || head.back() == ')')) {
    s = head;
  }
}

// "1,000,000" / "1{,}000" → "1000000" when every group after the first has exactly three digits.
void join_thousands(std::string& s) {
  replace_all(s, "{,}", ",");
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (std::isdigit(static_cast<unsigned char>(s[i])) && (i == 0 || !std::isdigit(static_cast<unsigned char>(s[i - 1])))) {
      size_t j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      const size_t first = j - i;
      size_t k = j;
      int groups = 0;
      while (k + 3 < s.size() && s[k] == ',' && std::isdigit(static_cast<unsigned char>(s[k + 1])) && std::isdigit(static_cast<unsigned char>(s[k + 2])) &&
             std::isdigit(static_cast<unsigned char>(s[k + 3])) &&
             (k + 4 == s.size() || !std::isdigit(static_cast<unsigned char>(s[k + 4])))) {
        k += 4;
        ++groups;
      }
      const bool before_decimal = i > 0 && s[i - 1] == '.';
      if (groups > 0 && first <= 3 && !before_decimal) {
        for (size_t p = i; p < k; ++p) {
          if (s[p] != ',') out += s[p];
        }
      } else {
        out.append(s, i, j - i);
        k = j;
      }
      i = k;
      continue;
    }
    out += s[i++];
  }
  s = out;
}

// Mixed numbers: "4\\frac{2}{3}" is 4 + 2/3, not 4 · 2/3 (the MATH convention, and math-verify's), when an
// integer stands right before a fraction of two integers.
void expand_mixed_numbers(std::string& s) {
  const std::string_view frac = "\\frac{";
  size_t pos = 0;
  while ((pos = s.find(frac, pos)) != std::string::npos) {
    size_t b = pos;
    while (b > 0 && s[b - 1] == ' ') --b;
    size_t d = b;
    while (d > 0 && std::isdigit(static_cast<unsigned char>(s[d - 1]))) --d;
    const size_t num_close = matching_brace(s, pos + frac.size() - 1);
    const size_t den_close = num_close != std::string::npos && num_close + 1 < s.size() && s[num_close + 1] == '{'
                                 ? matching_brace(s, num_close + 1)
                                 : std::string::npos;
    const auto all_digits = [&s](size_t from, size_t to) {
      if (from >= to) return false;
      for (size_t i = from; i < to; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      }
      return true;
    };
    const bool whole_before = d < b && (d == 0 || !(std::isalnum(static_cast<unsigned char>(s[d - 1])) ||
                                                    s[d - 1] == '.' || s[d - 1] == '^' || s[d - 1] == '}'));
    if (whole_before && den_close != std::string::npos && all_digits(pos + frac.size(), num_close) &&
        all_digits(num_close + 2, den_close)) {
      const std::string whole = s.substr(d, b - d);
      const std::string fraction = s.substr(pos, den_close + 1 - pos);
      const std::string mixed = fmt::format("({}+{})", whole, fraction);
      s.replace(d, den_close + 1 - d, mixed);
      pos = d + mixed.size();
      continue;
    }
    pos += frac.size();
  }
}

// ---------------------------------------------------------------------------------------------- values

struct Value {
  enum Kind { kNumber, kExpr, kText, kSet, kTuple, kInterval, kEquation } kind = kText;
  Number number;              // kNumber
  std::string text;           // kExpr: the expression; kText: lower-cased text; kEquation: the left side
  std::string variables;      // kExpr
  std::vector<Value> items;   // kSet/kTuple elements; kInterval [low, high]; kEquation [right side]
  bool left_open = false, right_open = false;  // kInterval
};

// Splits at commas that are not inside (), [], {} or \{ \}.
std::vector<std::string> split_top_level(std::string_view s, char sep) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == sep && depth == 0) {
      parts.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  parts.push_back(trim(s.substr(start)));
  return parts;
}

// True when the bracket opened at s[0] closes exactly at the end (any of ( [ with any of ) ]).
bool brackets_span_all(std::string_view s) {
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') {
      if (--depth == 0 && i + 1 != s.size()) return false;
    }
  }
  return depth == 0;
}

bool is_words(std::string_view s) {
  bool letter = false;
  for (char c : s) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      letter = true;
    } else if (c != ' ' && c != '\'' && c != '-') {
      return false;
    }
  }
  return letter;
}

std::string lower_no_space(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

Value parse_value(std::string s, int depth);

Value set_of(const std::vector<std::string>& parts, Value::Kind kind, int depth) {
  Value v;
  v.kind = kind;
  for (const auto& p : parts) v.items.push_back(parse_value(p, depth + 1));
  return v;
}

Value parse_value(std::string s, int depth) {
  s = trim(s);
  Value v;
  if (depth > 8) {  // deeper nesting than any answer has: compare as text
    v.text = lower_no_space(s);
    return v;
  }
  // ± and ∓: both signs, as a set of two answers.
  for (std::string_view pm : {"\\pm", "\\mp"}) {
    const size_t at = s.find(pm);
    if (at != std::string::npos) {
      std::string plus = s, minus = s;
      plus.replace(at, pm.size(), "+");
      minus.replace(at, pm.size(), "-");
      if (at == 0 || trim(s.substr(0, at)).empty()) plus = s.substr(at + pm.size());
      Value set;
      set.kind = Value::kSet;
      set.items = {parse_value(plus, depth + 1), parse_value(minus, depth + 1)};
      return set;
    }
  }
  // Equations and membership: "x = 3", "x \in [1, 2]"; a chain "x = y = 3" keeps the ends.
  replace_command(s, "\\in", "=");
  const auto eq_parts = split_top_level(s, '=');
  if (eq_parts.size() >= 2 && !eq_parts.front().empty() && !eq_parts.back().empty() &&
      s.find("\\{") == std::string::npos) {
    // A bare list of equations "x = 1, y = 2" is a set of equations, handled by the comma split below.
    if (split_top_level(s, ',').size() == 1) {
      v.kind = Value::kEquation;
      v.text = lower_no_space(eq_parts.front());
      v.items.push_back(parse_value(eq_parts.back(), depth + 1));
      return v;
    }
  }
  // Explicit sets \{ ... \}.
  if (s.size() >= 4 && s.starts_with("\\{") && s.ends_with("\\}")) {
    std::string inner = s.substr(2, s.size() - 4);
    replace_all(inner, "\\{", "{");
    replace_all(inner, "\\}", "}");
    if (trim(inner).empty()) return set_of({}, Value::kSet, depth);
    return set_of(split_top_level(inner, ','), Value::kSet, depth);
  }
  // Tuples and intervals.
  if (s.size() >= 2 && (s[0] == '(' || s[0] == '[') && (s.back() == ')' || s.back() == ']') && brackets_span_all(s)) {
    const auto parts = split_top_level(s.substr(1, s.size() - 2), ',');
    if (parts.size() == 2 && (s[0] == '[' || s.back() == ']')) {
      v = set_of(parts, Value::kInterval, depth);
      v.left_open = s[0] == '(';
      v.right_open = s.back() == ')';
      return v;
    }
    if (parts.size() >= 2) {
      v = set_of(parts, Value::kTuple, depth);
      v.left_open = v.right_open = true;  // (a, b) reads as a tuple or as an open interval
      return v;
    }
  }
  // A bare list "3, 5" is a set.
  const auto commas = split_top_level(s, ',');
  if (commas.size() >= 2) return set_of(commas, Value::kSet, depth);
  // Words and letters: "yes", "(C)", "odd".
  std::string unparen = s;
  while (unparen.size() >= 2 && unparen.front() == '(' && unparen.back() == ')') {
    unparen = trim(unparen.substr(1, unparen.size() - 2));
  }
  if (is_words(unparen)) {  // letters only: an answer in words or a choice letter, never a product x·y
    v.text = lower_no_space(unparen);
    return v;
  }
  if (auto vars = math::variables_of(s)) {
    if (vars->empty()) {
      if (auto n = math::evaluate(s)) {
        v.kind = Value::kNumber;
        v.number = *n;
        return v;
      }
    } else {
      v.kind = Value::kExpr;
      v.text = s;
      v.variables = *vars;
      return v;
    }
  }
  v.text = lower_no_space(s);
  return v;
}

// ---------------------------------------------------------------------------------------------- compare

// Rounding to 6 decimals, as math-verify compares a float answer (its default float_rounding = 6).
bool round6_equal(double a, double b) {
  if (std::abs(a) > 1e9 || std::abs(b) > 1e9) return std::abs(a - b) <= 1e-15 * std::max(std::abs(a), std::abs(b));
  return std::round(a * 1e6) == std::round(b * 1e6);
}

bool numbers_equal(const Number& a, const Number& b) {
  if (std::isinf(a.value) || std::isinf(b.value)) return a.value == b.value;
  if (a.percent_of_integer && b.is_integer() && !b.percent_of_integer && !b.has_decimal &&
      static_cast<__int128>(*a.percent_of_integer) == b.num) {
    return true;
  }
  if (b.percent_of_integer && a.is_integer() && !a.percent_of_integer && !a.has_decimal &&
      static_cast<__int128>(*b.percent_of_integer) == a.num) {
    return true;
  }
  if (a.exact && b.exact && a.num == b.num && a.den == b.den) return true;
  if (a.has_decimal || b.has_decimal) return round6_equal(a.value, b.value);
  if (a.exact && b.exact) return false;
  const double scale = std::max({1.0, std::abs(a.value), std::abs(b.value)});
  return std::abs(a.value - b.value) <= 1e-12 * scale;
}

// Two expressions in the same variables are equal when they agree at several generic points (a nonzero
// polynomial vanishes at random points with probability zero; fixed irrational-looking points serve).
bool expressions_equal(const Value& a, const Value& b) {
  if (a.variables != b.variables) return false;
  static constexpr double kPoints[3][4] = {{0.7318, 1.4142, -0.3779, 2.2361},
                                           {1.9173, -0.6124, 0.4472, 1.2599},
                                           {-1.1547, 0.8660, 1.6180, -0.5774}};
  for (const auto& point : kPoints) {
    std::map<char, double> assignment;
    for (size_t i = 0; i < a.variables.size(); ++i) assignment[a.variables[i]] = point[i % 4] + 0.1 * (i / 4);
    const auto x = math::evaluate(a.text, assignment), y = math::evaluate(b.text, assignment);
    if (!x || !y) return false;
    if (std::isnan(x->value) || std::isnan(y->value)) return false;
    const double scale = std::max({1.0, std::abs(x->value), std::abs(y->value)});
    if (std::abs(x->value - y->value) > 1e-9 * scale) return false;
  }
  return true;
}

bool values_equal(const Value& gold, const Value& pred);

// Elementwise in the given order.
bool ordered_equal(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!values_equal(a[i], b[i])) return false;
  }
  return true;
}

// Every element matched once, in any order.
bool unordered_equal(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const Value& x : a) {
    bool found = false;
    for (size_t j = 0; j < b.size() && !found; ++j) {
      if (!used[j] && values_equal(x, b[j])) used[j] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

bool values_equal(const Value& gold_in, const Value& pred_in) {
  const Value* gold = &gold_in;
  const Value* pred = &pred_in;
  // The reference decides the form: an equation on one side only compares its right side.
  if (gold->kind == Value::kEquation && pred->kind == Value::kEquation) {
    return gold->text == pred->text && values_equal(gold->items[0], pred->items[0]);
  }
  if (gold->kind == Value::kEquation) gold = &gold->items[0];
  if (pred->kind == Value::kEquation) pred = &pred->items[0];

  const auto is_collection = [](const Value* v) {
    return v->kind == Value::kSet || v->kind == Value::kTuple || v->kind == Value::kInterval;
  };
  if (is_collection(gold) || is_collection(pred)) {
    if (gold->kind == Value::kInterval && pred->kind == Value::kInterval) {
      return gold->left_open == pred->left_open && gold->right_open == pred->right_open &&
             ordered_equal(gold->items, pred->items);
    }
    if (gold->kind == Value::kSet && pred->kind == Value::kSet) return unordered_equal(gold->items, pred->items);
    if (gold->kind == Value::kTuple && pred->kind == Value::kTuple) return ordered_equal(gold->items, pred->items);
    // A tuple (or open pair) against a set: the reference's order if the reference is the tuple.
    if (gold->kind == Value::kTuple && pred->kind == Value::kSet) return ordered_equal(gold->items, pred->items);
    if (gold->kind == Value::kSet && pred->kind == Value::kTuple) return unordered_equal(gold->items, pred->items);
    // A scalar against a one-element set.
    if (gold->kind == Value::kSet && gold->items.size() == 1 && !is_collection(pred)) {
      return values_equal(gold->items[0], *pred);
    }
    if (pred->kind == Value::kSet && pred->items.size() == 1 && !is_collection(gold)) {
      return values_equal(*gold, pred->items[0]);
    }
    return false;
  }
  if (gold->kind == Value::kNumber && pred->kind == Value::kNumber) return numbers_equal(gold->number, pred->number);
  if (gold->kind == Value::kExpr && pred->kind == Value::kExpr) return expressions_equal(*gold, *pred);
  if (gold->kind == Value::kText && pred->kind == Value::kText) return !gold->text.empty() && gold->text == pred->text;
  // A single letter parsed as a variable against the same letter as text ("x" vs "\text{x}").
  if ((gold->kind == Value::kExpr || gold->kind == Value::kText) &&
      (pred->kind == Value::kExpr || pred->kind == Value::kText)) {
    return lower_no_space(gold->text) == lower_no_space(pred->text);
  }
  return false;
}

}  // namespace

std::string clean_math_answer(std::string_view answer) {
  std::string s(answer);
  // Unicode spellings first, so that the LaTeX rules below see one form.
  replace_all(s, "\xe2\x88\x92", "-");        // − U+2212 minus
  replace_all(s, "\xc3\x97", "*");            // ×
  replace_all(s, "\xc3\xb7", "/");            // ÷
  replace_all(s, "\xcf\x80", "\\pi ");        // π
  replace_all(s, "\xe2\x88\x9e", "\\infty ");  // ∞
  replace_all(s, "\xc2\xb1", "\\pm ");        // ±
  replace_all(s, "\xe2\x88\x9a", "\\sqrt");   // √
  replace_all(s, "\xc2\xb0", "");             // ° degree sign
  replace_all(s, "\xe2\x80\xaf", "");         // narrow no-break space (a thousands separator)
  replace_all(s, "\xc2\xa0", " ");            // no-break space
  // Math delimiters, dollars, sizing, spacing.
  replace_all(s, "\\$", "");
  replace_all(s, "$", "");
  replace_all(s, "\\(", "");
  replace_all(s, "\\)", "");
  replace_command(s, "\\displaystyle", "");
  replace_command(s, "\\left", "");
  replace_command(s, "\\right", "");
  replace_command(s, "\\bigl", "");
  replace_command(s, "\\bigr", "");
  replace_all(s, "\\!", "");
  replace_all(s, "\\,", "");
  replace_all(s, "\\;", " ");
  replace_all(s, "\\:", " ");
  replace_command(s, "\\quad", " ");
  replace_command(s, "\\qquad", " ");
  replace_all(s, "\\ ", " ");
  replace_all(s, "~", " ");
  // Degrees and percent signs.
  replace_all(s, "^{\\circ}", "");
  replace_all(s, "^\\circ", "");
  replace_command(s, "\\circ", "");
  replace_command(s, "\\degree", "");
  replace_all(s, "\\%", "%");
  // Operators and spellings with the same value.
  replace_command(s, "\\dfrac", "\\frac");
  replace_command(s, "\\tfrac", "\\frac");
  replace_command(s, "\\cdot", "*");
  replace_command(s, "\\times", "*");
  replace_command(s, "\\div", "/");
  replace_command(s, "\\infin", "\\infty");
  for (std::string_view cmd : {"\\mathbf", "\\mathrm", "\\boldsymbol", "\\mathit", "\\operatorname"}) {
    unwrap_command(s, cmd);
  }
  // An answer that is one \text{...} as a whole is that text, words and all ("\text{5 apples}" is not 5).
  const std::string before_text = trim(s);
  const bool whole_text = before_text.starts_with("\\text{") && matching_brace(before_text, 5) == before_text.size() - 1;
  handle_text(s);
  s = trim(s);
  while (!s.empty() && (s.back() == '.' || s.back() == ';')) s = trim(s.substr(0, s.size() - 1));
  join_thousands(s);
  expand_mixed_numbers(s);
  if (!whole_text) strip_trailing_words(s);
  // Collapse runs of spaces.
  std::string out;
  for (char c : s) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  return trim(out);
}

bool math_answers_equal(std::string_view reference, std::string_view predicted) {
  const std::string gold_text = clean_math_answer(reference);
  const std::string pred_text = clean_math_answer(predicted);
  if (gold_text.empty() || pred_text.empty()) return false;
  if (gold_text == pred_text) return true;
  return values_equal(parse_value(gold_text, 0), parse_value(pred_text, 0));
}

}  // namespace fp4::eval
