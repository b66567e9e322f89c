#include "fp4/chat/jinja_operations.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "fp4/chat/jinja_builtins.h"
#include "fp4/chat/unicode_text.h"

namespace fp4::chat::jinja {

void fail_undefined(const Value& undefined) { throw_error(undefined.undefined_hint()); }

std::string object_description(const Value& value) {
  if (value.is_none()) return "None";
  if (value.is_undefined()) return "Undefined";
  return value.type_name() + " object";
}

namespace {

Value missing_attribute(const Value& object, std::string_view name) {
  return Value::undefined(fmt::format("'{}' has no attribute '{}'", object_description(object), name));
}

// Normalizes a Python index (negative counts from the end); nullopt when out of range.
std::optional<size_t> normalize_index(int64_t index, size_t size) {
  if (index < 0) index += static_cast<int64_t>(size);
  if (index < 0 || static_cast<size_t>(index) >= size) return std::nullopt;
  return static_cast<size_t>(index);
}

bool is_ascii(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

Value get_attribute(const Value& object, std::string_view name) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_namespace()) {
    const Value* v = object.as_namespace().attributes.find(name);
    return v != nullptr ? *v : missing_attribute(object, name);
  }
  if (auto method = bound_method(object, name)) return *method;
  if (object.is_dict()) {
    const Value* v = object.as_dict().find(name);
    if (v != nullptr) return *v;
  }
  return missing_attribute(object, name);
}

int64_t index_from_digits(std::string_view digits) {
  int64_t value = 0;
  for (const char c : digits) {
    const int64_t d = c - '0';
    if (value > (std::numeric_limits<int64_t>::max() - d) / 10) return std::numeric_limits<int64_t>::max();
    value = value * 10 + d;
  }
  return value;
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_dict()) {
    const Value* v = object.as_dict().find(key);
    if (v != nullptr) return *v;
  } else if (object.is_namespace()) {
    if (key.is_string()) return get_attribute(object, key.as_string());
  } else if (object.is_list() && object.as_list().is_view()) {
    throw_error(fmt::format("'{}' object is not subscriptable", object.as_list().view));
  } else if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
    if (object.is_list()) {
      const auto& items = object.as_list().items;
      if (auto i = normalize_index(key.as_int(), items.size())) return items[*i];
    } else {
      const std::string& s = object.as_string();
      if (is_ascii(s)) {
        if (auto i = normalize_index(key.as_int(), s.size())) return Value::string(s.substr(*i, 1));
      } else {
        const std::u32string cps = unicode::decode(s);
        if (auto i = normalize_index(key.as_int(), cps.size())) return Value::string(unicode::encode(cps.substr(*i, 1)));
      }
    }
    return Value::undefined(fmt::format("{} has no element {}", object_description(object), key.as_int()));
  }
  // Jinja falls back to attribute lookup for string keys (so `"abc"["upper"]` is the method).
  if (key.is_string() && !object.is_dict()) {
    if (auto method = bound_method(object, key.as_string())) return *method;
  }
  if (key.is_string()) return missing_attribute(object, key.as_string());
  return Value::undefined(fmt::format("{} has no element {}", object_description(object), repr(key)));
}

namespace {

// Python slice index rules (PySlice_AdjustIndices) for a sequence of `size` items.
std::vector<size_t> slice_positions(size_t size, std::optional<int64_t> start, std::optional<int64_t> stop,
                                    std::optional<int64_t> step) {
  const int64_t n = static_cast<int64_t>(size);
  const int64_t st = step.value_or(1);
  if (st == 0) throw_error("slice step cannot be zero");
  auto adjust = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t begin = adjust(start, st < 0 ? n - 1 : 0);
  const int64_t end = adjust(stop, st < 0 ? -1 : n);
  std::vector<size_t> positions;
  if (st > 0) {
    for (int64_t i = begin; i < end; i += st) positions.push_back(static_cast<size_t>(i));
  } else {
    for (int64_t i = begin; i > end; i += st) positions.push_back(static_cast<size_t>(i));
  }
  return positions;
}

}  // namespace

Value get_slice(const Value& object, std::optional<int64_t> start, std::optional<int64_t> stop,
                std::optional<int64_t> step) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_list()) {
    if (object.as_list().is_view()) throw_error(fmt::format("'{}' object is not subscriptable", object.as_list().view));
    const auto& items = object.as_list().items;
    std::vector<Value> out;
    for (size_t i : slice_positions(items.size(), start, stop, step)) out.push_back(items[i]);
    return Value::list(std::move(out), object.as_list().is_tuple);
  }
  if (object.is_string()) {
    const std::u32string cps = unicode::decode(object.as_string());
    std::u32string out;
    for (size_t i : slice_positions(cps.size(), start, stop, step)) out.push_back(cps[i]);
    return Value::string(unicode::encode(out));
  }
  throw_error(fmt::format("'{}' object is not subscriptable", object.type_name()));
}

std::vector<Value> iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return value.as_list().items;
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& [k, v] : value.as_dict().items) keys.push_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      std::string one;
      for (char32_t c : unicode::decode(value.as_string())) {
        one.clear();
        unicode::append_utf8(c, one);
        chars.push_back(Value::string(one));
      }
      return chars;
    }
    default:
      throw_error(fmt::format("'{}' object is not iterable", value.type_name()));
  }
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (item.is_undefined()) fail_undefined(item);
    if (!item.is_string()) {
      throw_error(fmt::format("'in <string>' requires string as left operand, not {}", item.type_name()));
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return container.as_dict().find(item) != nullptr;
  if (container.is_namespace()) return false;
  for (const Value& v : iterate(container)) {
    if (equals(v, item)) return true;
  }
  return false;
}

namespace {

[[noreturn]] void unsupported_operands(std::string_view op, const Value& a, const Value& b) {
  throw_error(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name()));
}

Value checked_int(__int128 v) {
  if (v > std::numeric_limits<int64_t>::max() || v < std::numeric_limits<int64_t>::min()) {
    throw_error("integer result outside the supported 64-bit range");
  }
  return Value::integer(static_cast<int64_t>(v));
}

Value repeat(const Value& sequence, int64_t times) {
  const int64_t n = std::max<int64_t>(times, 0);
  if (sequence.is_string()) {
    const std::string& s = sequence.as_string();
    if (n > 0 && s.size() > kMaxBuiltSize / static_cast<size_t>(n)) throw_error("string repetition result is too large");
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value::string(std::move(out));
  }
  const auto& items = sequence.as_list().items;
  if (n > 0 && items.size() > kMaxBuiltSize / 16 / static_cast<size_t>(n)) throw_error("list repetition result is too large");
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), sequence.as_list().is_tuple);
}

double python_fmod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

}  // namespace

Value binary_operation(std::string_view op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = to_str(a) + to_str(b);
    if (s.size() > kMaxBuiltSize) throw_error("string concatenation result is too large");
    return Value::string(std::move(s));
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const bool numbers = a.is_number() && b.is_number();
  const bool floats = numbers && (a.is_float() || b.is_float());
  if (op == "+") {
    if (floats) return Value::floating(a.as_double() + b.as_double());
    if (numbers) return checked_int(static_cast<__int128>(a.as_int()) + b.as_int());
    if (a.is_string() && b.is_string()) {
      if (a.as_string().size() + b.as_string().size() > kMaxBuiltSize) throw_error("string result is too large");
      if (a.is_markup() || b.is_markup()) {  // Markup + str escapes the str
        return Value::markup((a.is_markup() ? a.as_string() : html_escape(a.as_string())) +
                             (b.is_markup() ? b.as_string() : html_escape(b.as_string())));
      }
      return Value::string(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list() && a.type_name() == b.type_name() && !a.as_list().is_view()) {
      std::vector<Value> items = a.as_list().items;
      items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
      return Value::list(std::move(items), a.as_list().is_tuple);
    }
    unsupported_operands("+", a, b);
  }
  if (op == "-") {
    if (floats) return Value::floating(a.as_double() - b.as_double());
    if (numbers) return checked_int(static_cast<__int128>(a.as_int()) - b.as_int());
    unsupported_operands("-", a, b);
  }
  if (op == "*") {
    if (floats) return Value::floating(a.as_double() * b.as_double());
    if (numbers) return checked_int(static_cast<__int128>(a.as_int()) * b.as_int());
    if ((a.is_string() || (a.is_list() && !a.as_list().is_view())) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
    if ((b.is_string() || (b.is_list() && !b.as_list().is_view())) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
    unsupported_operands("*", a, b);
  }
  if (op == "/") {
    if (!numbers) unsupported_operands("/", a, b);
    if (b.as_double() == 0.0) throw_error("division by zero");
    return Value::floating(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (op == "%" && a.is_string()) return Value::string(percent_format(a.as_string(), b));
    if (!numbers) unsupported_operands(op, a, b);
    if (b.as_double() == 0.0) throw_error(op == "//" ? "integer division or modulo by zero" : "modulo by zero");
    if (floats) {
      const double x = a.as_double(), y = b.as_double();
      return Value::floating(op == "//" ? std::floor(x / y) : python_fmod(x, y));
    }
    const int64_t x = a.as_int(), y = b.as_int();
    if (x == std::numeric_limits<int64_t>::min() && y == -1) {
      if (op == "%") return Value::integer(0);
      throw_error("integer result outside the supported 64-bit range");
    }
    int64_t q = x / y, r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) {
      --q;
      r += y;
    }
    return Value::integer(op == "//" ? q : r);
  }
  if (op == "**") {
    if (!numbers) unsupported_operands("** or pow()", a, b);
    if (!floats && b.as_int() >= 0) {
      __int128 result = 1, base = a.as_int();
      for (int64_t e = b.as_int(); e > 0; --e) {
        result *= base;
        if (result > std::numeric_limits<int64_t>::max() || result < std::numeric_limits<int64_t>::min()) {
          throw_error("integer result outside the supported 64-bit range");
        }
        if (result == 0 || result == 1) break;
        if (result == -1) {
          result = ((e - 1) % 2 == 0) ? -1 : 1;
          break;
        }
      }
      return checked_int(result);
    }
    if (a.as_double() == 0.0 && b.as_double() < 0) throw_error("0.0 cannot be raised to a negative power");
    return Value::floating(std::pow(a.as_double(), b.as_double()));
  }
  throw_error(fmt::format("unknown operator '{}'", op));
}

namespace {

// snprintf into a string of the size it needs (widths in a format string can be large).
template <typename T>
std::string c_format(const std::string& spec, T value) {
  const int needed = std::snprintf(nullptr, 0, spec.c_str(), value);
  if (needed < 0 || static_cast<size_t>(needed) > kMaxBuiltSize) throw_error("formatted value is too large");
  std::string out(static_cast<size_t>(needed) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec.c_str(), value);
  out.pop_back();
  return out;
}

}  // namespace

std::string percent_format(const std::string& format, const Value& arguments) {
  std::vector<Value> args;
  if (arguments.is_list() && arguments.as_list().is_tuple) {
    args = arguments.as_list().items;
  } else {
    args.push_back(arguments);
  }
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out.push_back(format[i]);
      continue;
    }
    if (++i >= format.size()) throw_error("incomplete format");
    if (format[i] == '%') {
      out.push_back('%');
      continue;
    }
    // Optional flags, width and precision: [-+ 0#]*\d*(\.\d+)?
    std::string spec = "%";
    while (i < format.size() && std::string_view("-+ 0#").find(format[i]) != std::string_view::npos) spec += format[i++];
    while (i < format.size() && format[i] >= '0' && format[i] <= '9') spec += format[i++];
    if (i < format.size() && format[i] == '.') {
      spec += format[i++];
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') spec += format[i++];
    }
    if (i >= format.size()) throw_error("incomplete format");
    const char conversion = format[i];
    if (next >= args.size()) throw_error("not enough arguments for format string");
    const Value& arg = args[next++];
    switch (conversion) {
      case 's':
      case 'r': {
        const std::string text = conversion == 's' ? to_str(arg) : repr(arg);
        if (spec == "%") {
          out += text;
        } else {
          out += c_format(spec + "s", text.c_str());
        }
        break;
      }
      case 'd':
      case 'i': {
        if (!arg.is_number()) throw_error(fmt::format("%{} format: a real number is required, not {}", conversion, arg.type_name()));
        const long long v = arg.is_float() ? static_cast<long long>(std::trunc(arg.as_double())) : arg.as_int();
        out += c_format(spec + "lld", v);
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!arg.is_number()) throw_error(fmt::format("must be real number, not {}", arg.type_name()));
        out += c_format(spec + conversion, arg.as_double());
        break;
      }
      case 'x':
      case 'X':
      case 'o': {
        if (!(arg.is_int() || arg.is_bool())) throw_error(fmt::format("%{} format: an integer is required, not {}", conversion, arg.type_name()));
        out += c_format(spec + "ll" + conversion, static_cast<long long>(arg.as_int()));
        break;
      }
      default:
        throw_error(fmt::format("unsupported format character '{}'", conversion));
    }
  }
  if (next < args.size()) throw_error("not all arguments converted during string formatting");
  return out;
}

}  // namespace fp4::chat::jinja
