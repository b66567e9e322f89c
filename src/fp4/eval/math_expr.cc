#include "fp4/eval/math_expr.h"

#include <cctype>
#include <cmath>
#include <numbers>
#include <set>

namespace fp4::eval::math {
namespace {

__int128 abs128(__int128 v) { return v < 0 ? -v : v; }

__int128 gcd128(__int128 a, __int128 b) {
  a = abs128(a);
  b = abs128(b);
  while (b != 0) {
    const __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

double to_double(__int128 num, __int128 den) { return static_cast<double>(num) / static_cast<double>(den); }

// An exact rational, reduced; nullopt when a step overflows 128 bits.
std::optional<Number> rational(__int128 num, __int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  const __int128 g = gcd128(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  Number n;
  n.exact = true;
  n.num = num;
  n.den = den;
  n.value = to_double(num, den);
  return n;
}

std::optional<__int128> mul(__int128 a, __int128 b) {
  __int128 r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

std::optional<__int128> add(__int128 a, __int128 b) {
  __int128 r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

Number approx(double v, bool has_decimal) {
  Number n = Number::approximate(v);
  n.has_decimal = has_decimal;
  return n;
}

Number op_add(const Number& a, const Number& b) {
  const bool dec = a.has_decimal || b.has_decimal;
  if (a.exact && b.exact) {
    const auto x = mul(a.num, b.den), y = mul(b.num, a.den), d = mul(a.den, b.den);
    if (x && y && d) {
      if (const auto s = add(*x, *y)) {
        if (auto r = rational(*s, *d)) {
          r->has_decimal = dec;
          return *r;
        }
      }
    }
  }
  return approx(a.value + b.value, dec);
}

Number op_neg(const Number& a) {
  Number r = a;
  r.num = -a.num;
  r.value = -a.value;
  r.percent_of_integer.reset();
  return r;
}

Number op_mul(const Number& a, const Number& b) {
  const bool dec = a.has_decimal || b.has_decimal;
  if (a.exact && b.exact) {
    const auto n = mul(a.num, b.num), d = mul(a.den, b.den);
    if (n && d) {
      if (auto r = rational(*n, *d)) {
        r->has_decimal = dec;
        return *r;
      }
    }
  }
  return approx(a.value * b.value, dec);
}

std::optional<Number> op_div(const Number& a, const Number& b) {
  if (b.exact ? b.num == 0 : b.value == 0.0) return std::nullopt;  // x/0 has no value to compare
  Number inv;
  if (b.exact) {
    auto r = rational(b.den, b.num);
    if (!r) return std::nullopt;
    inv = *r;
    inv.has_decimal = b.has_decimal;
  } else {
    inv = approx(1.0 / b.value, b.has_decimal);
  }
  return op_mul(a, inv);
}

// Exact integer square root of a non-negative value, or nullopt when it is not a perfect square.
std::optional<__int128> exact_sqrt(__int128 v) {
  if (v < 0) return std::nullopt;
  __int128 r = static_cast<__int128>(std::sqrt(static_cast<double>(v)));
  for (__int128 c = r > 2 ? r - 2 : 0; c <= r + 2; ++c) {
    if (c * c == v) return c;
  }
  return std::nullopt;
}

std::optional<Number> op_root(const Number& a, int64_t degree) {
  if (degree < 1) return std::nullopt;
  if (degree == 2 && a.exact) {
    const auto n = exact_sqrt(a.num), d = exact_sqrt(a.den);
    if (n && d) {
      auto r = rational(*n, *d);
      if (r) r->has_decimal = a.has_decimal;
      return r;
    }
  }
  if (a.value < 0 && degree % 2 == 0) return std::nullopt;  // not a real number
  const double v = a.value < 0 ? -std::pow(-a.value, 1.0 / static_cast<double>(degree))
                               : std::pow(a.value, 1.0 / static_cast<double>(degree));
  // An exact integer root (\sqrt[3]{8} = 2) stays exact.
  const double rounded = std::round(v);
  if (a.is_integer() && std::abs(rounded) < 1e6) {
    __int128 p = 1;
    for (int64_t i = 0; i < degree; ++i) p *= static_cast<__int128>(rounded);
    if (p == a.num) return Number::integer(static_cast<int64_t>(rounded));
  }
  return approx(v, a.has_decimal);
}

std::optional<Number> op_pow(const Number& base, const Number& exponent) {
  const bool dec = base.has_decimal || exponent.has_decimal;
  if (base.exact && exponent.is_integer() && abs128(exponent.num) <= 256) {
    Number r = Number::integer(1);
    for (__int128 i = 0; i < abs128(exponent.num); ++i) r = op_mul(r, base);
    if (exponent.num < 0) {
      auto inv = op_div(Number::integer(1), r);
      if (!inv) return std::nullopt;
      r = *inv;
    }
    r.has_decimal = dec;
    return r;
  }
  if (base.exact && exponent.exact && exponent.den > 1 && exponent.den <= 16 && exponent.num > 0 &&
      exponent.num <= 256) {  // a^(p/q) = (q-th root of a)^p, exact when the root is
    auto root = op_root(base, static_cast<int64_t>(exponent.den));
    if (!root) return std::nullopt;
    Number p = Number::integer(static_cast<int64_t>(exponent.num));
    return op_pow(*root, p);
  }
  const double v = std::pow(base.value, exponent.value);
  if (std::isnan(v)) return std::nullopt;
  return approx(v, dec);
}

// Recursive descent over the cleaned LaTeX. Every parse function returns nullopt on anything it does not
// understand; the whole text must be consumed.
class Parser {
 public:
  Parser(std::string_view text, const std::map<char, double>* variables, std::set<char>* seen)
      : s_(text), vars_(variables), seen_(seen) {}

  std::optional<Number> parse_all() {
    auto v = expr();
    skip_space();
    if (!v || pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  const std::map<char, double>* vars_;
  std::set<char>* seen_;
  int depth_ = 0;

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n')) ++pos_;
  }
  char peek() {
    skip_space();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  bool eat_command(std::string_view name) {  // "\frac" but not "\fracture"
    skip_space();
    if (s_.substr(pos_, name.size()) != name) return false;
    const size_t end = pos_ + name.size();
    if (end < s_.size() && std::isalpha(static_cast<unsigned char>(s_[end]))) return false;
    pos_ = end;
    return true;
  }

  std::optional<Number> expr() {
    if (++depth_ > 200) return std::nullopt;  // pathological nesting
    auto left = term();
    while (left) {
      if (eat('+')) {
        auto right = term();
        if (!right) return std::nullopt;
        left = op_add(*left, *right);
      } else if (eat('-')) {
        auto right = term();
        if (!right) return std::nullopt;
        left = op_add(*left, op_neg(*right));
      } else {
        break;
      }
    }
    --depth_;
    return left;
  }

  bool starts_primary() {
    const char c = peek();
    if (c == '(' || c == '{' || std::isalpha(static_cast<unsigned char>(c))) return true;
    if (c == '\\') {
      for (std::string_view cmd : {"\\frac", "\\sqrt", "\\pi", "\\infty"}) {
        if (s_.substr(pos_, cmd.size()) == cmd) return true;
      }
    }
    return false;
  }

  std::optional<Number> term() {
    auto left = unary();
    while (left) {
      if (eat('*')) {
        auto right = unary();
        if (!right) return std::nullopt;
        left = op_mul(*left, *right);
      } else if (eat('/')) {
        auto right = unary();
        if (!right) return std::nullopt;
        left = op_div(*left, *right);
      } else if (starts_primary()) {  // implicit multiplication: 2\pi, 3(x+1), 2x
        auto right = power();
        if (!right) return std::nullopt;
        left = op_mul(*left, *right);
      } else {
        break;
      }
    }
    return left;
  }

  std::optional<Number> unary() {
    if (eat('-')) {
      auto v = unary();
      if (!v) return std::nullopt;
      return op_neg(*v);
    }
    if (eat('+')) return unary();
    return power();
  }

  std::optional<Number> power() {
    auto base = postfix();
    if (!base) return std::nullopt;
    if (!eat('^')) return base;
    std::optional<Number> exponent;
    if (peek() == '{') {
      exponent = group('{', '}');
    } else if (peek() == '-') {  // 10^-3 written without braces
      ++pos_;
      exponent = single_token();
      if (exponent) exponent = op_neg(*exponent);
    } else {
      exponent = single_token();  // LaTeX: 2^10 is 2^1 followed by 0
    }
    if (!exponent) return std::nullopt;
    auto r = op_pow(*base, *exponent);
    if (r) r->percent_of_integer.reset();
    return r;
  }

  std::optional<Number> postfix() {
    skip_space();
    const bool plain_integer = pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]));
    const size_t start = pos_;
    auto v = primary();
    if (!v) return std::nullopt;
    if (eat('%')) {
      const bool integer_literal = plain_integer && v->is_integer() &&
                                   s_.substr(start, pos_ - 1 - start).find('.') == std::string_view::npos;
      auto p = op_div(*v, Number::integer(100));
      if (!p) return std::nullopt;
      if (integer_literal && abs128(v->num) < (static_cast<__int128>(1) << 62)) {
        p->percent_of_integer = static_cast<int64_t>(v->num);
      }
      return p;
    }
    if (eat('!')) {
      if (!v->is_integer() || v->num < 0 || v->num > 33) return std::nullopt;
      Number f = Number::integer(1);
      for (int64_t i = 2; i <= static_cast<int64_t>(v->num); ++i) f = op_mul(f, Number::integer(i));
      return f;
    }
    return v;
  }

  // One character or one command as an argument without braces: \frac12, \sqrt2, x^2.
  std::optional<Number> single_token() {
    const char c = peek();
    if (std::isdigit(static_cast<unsigned char>(c))) {
      ++pos_;
      return Number::integer(c - '0');
    }
    if (c == '{') return group('{', '}');
    return primary();
  }

  std::optional<Number> group(char open, char close) {
    if (!eat(open)) return std::nullopt;
    auto v = expr();
    if (!v || !eat(close)) return std::nullopt;
    return v;
  }

  std::optional<Number> number() {
    const size_t start = pos_;
    while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    bool decimal = false;
    if (pos_ < s_.size() && s_[pos_] == '.' && pos_ + 1 < s_.size() &&
        std::isdigit(static_cast<unsigned char>(s_[pos_ + 1]))) {
      decimal = true;
      ++pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    const std::string_view digits = s_.substr(start, pos_ - start);
    if (digits.empty() || digits.size() > 36) return std::nullopt;
    __int128 num = 0, den = 1;
    for (char c : digits) {
      if (c == '.') continue;
      num = num * 10 + (c - '0');
    }
    if (decimal) {
      for (size_t i = digits.find('.') + 1; i < digits.size(); ++i) den *= 10;
    }
    auto v = rational(num, den);
    if (!v) return std::nullopt;
    v->has_decimal = decimal;
    // Scientific notation 1.5e3 / 2E-4 (a float in every tool that reads it).
    if (pos_ + 1 < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      int sign = 1;
      if (s_[p] == '-' || s_[p] == '+') sign = s_[p++] == '-' ? -1 : 1;
      const size_t exp_start = p;
      while (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p]))) ++p;
      if (p > exp_start && p - exp_start <= 3) {
        const int e = std::stoi(std::string(s_.substr(exp_start, p - exp_start))) * sign;
        pos_ = p;
        auto r = op_pow(Number::integer(10), Number::integer(e));
        if (!r) return std::nullopt;
        Number out = op_mul(*v, *r);
        out.has_decimal = true;
        return out;
      }
    }
    return v;
  }

  std::optional<Number> primary() {
    const char c = peek();
    if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && pos_ + 1 < s_.size() &&
                                                       std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))) {
      return number();
    }
    if (c == '(') return group('(', ')');
    if (c == '{') return group('{', '}');
    if (c == '\\') {
      if (eat_command("\\frac")) {
        auto n = single_token();
        auto d = n ? single_token() : std::nullopt;
        if (!d) return std::nullopt;
        return op_div(*n, *d);
      }
      if (eat_command("\\sqrt")) {
        int64_t degree = 2;
        if (eat('[')) {
          auto deg = expr();
          if (!deg || !deg->is_integer() || !eat(']')) return std::nullopt;
          degree = static_cast<int64_t>(deg->num);
        }
        auto a = single_token();
        if (!a) return std::nullopt;
        return op_root(*a, degree);
      }
      if (eat_command("\\pi")) return Number::approximate(std::numbers::pi);
      if (eat_command("\\infty")) return Number::approximate(INFINITY);
      return std::nullopt;
    }
    if (std::isalpha(static_cast<unsigned char>(c))) {
      ++pos_;
      if (seen_) seen_->insert(c);
      if (!vars_) return Number::approximate(1.0);
      const auto it = vars_->find(c);
      if (it == vars_->end()) return std::nullopt;
      return Number::approximate(it->second);
    }
    return std::nullopt;
  }
};

}  // namespace

Number Number::integer(int64_t v) {
  Number n;
  n.exact = true;
  n.num = v;
  n.den = 1;
  n.value = static_cast<double>(v);
  return n;
}

Number Number::approximate(double v) {
  Number n;
  n.exact = false;
  n.value = v;
  return n;
}

std::optional<Number> evaluate(std::string_view text, const std::map<char, double>& variables) {
  return Parser(text, &variables, nullptr).parse_all();
}

std::optional<std::string> variables_of(std::string_view text) {
  std::set<char> seen;
  if (!Parser(text, nullptr, &seen).parse_all()) return std::nullopt;
  return std::string(seen.begin(), seen.end());
}

}  // namespace fp4::eval::math
