#include "fp4/chat/jinja_value.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "fp4/chat/unicode_text.h"

namespace fp4::chat::jinja {

void throw_error(std::string message) { throw RenderError(std::move(message)); }

const Value* Dict::find(const Value& key) const {
  for (const auto& [k, v] : items) {
    if (equals(k, key)) return &v;
  }
  return nullptr;
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

int Value::depth() const {
  if (is_list()) return as_list().depth;
  if (is_dict()) return as_dict().depth();
  return 0;
}

int Dict::depth() const {
  int deepest = 0;
  for (const auto& [k, v] : items) deepest = std::max(deepest, v.depth());
  return deepest + 1;
}

namespace {

void check_depth(int depth) {
  if (depth > kMaxValueDepth) throw_error(fmt::format("value nested deeper than {} levels", kMaxValueDepth));
}

}  // namespace

Value Value::undefined(std::string hint) {
  return Value(Data(Undefined{std::make_shared<const std::string>(std::move(hint))}));
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
  auto l = std::make_shared<List>();
  for (const Value& item : items) l->depth = std::max(l->depth, item.depth() + 1);
  check_depth(l->depth);
  l->items = std::move(items);
  l->is_tuple = is_tuple;
  return Value(Data(std::shared_ptr<const List>(std::move(l))));
}

Value Value::dict(Dict d) {
  check_depth(d.depth());
  return Value(Data(std::make_shared<const Dict>(std::move(d))));
}

Value Value::view(std::vector<Value> items, const char* view_type) {
  auto l = std::make_shared<List>();
  for (const Value& item : items) l->depth = std::max(l->depth, item.depth() + 1);
  check_depth(l->depth);
  l->items = std::move(items);
  l->view = view_type;
  return Value(Data(std::shared_ptr<const List>(std::move(l))));
}

bool List::is_iterator() const {
  return std::string_view(view) == "generator" || std::string_view(view) == "list_reverseiterator";
}

Value Value::function(std::string name, std::function<Value(Interpreter&, CallArgs&)> call) {
  return Value(Data(std::make_shared<const Function>(Function{std::move(name), std::move(call)})));
}

Value Value::namespace_object(Dict attributes) {
  return Value(Data(std::make_shared<Namespace>(Namespace{std::move(attributes)})));
}

Value Value::from_json(const nlohmann::ordered_json& json, int depth) {
  using T = nlohmann::ordered_json::value_t;
  check_depth(depth);
  switch (json.type()) {
    case T::null:
      return none();
    case T::boolean:
      return boolean(json.get<bool>());
    case T::number_integer:
      return integer(json.get<int64_t>());
    case T::number_unsigned: {
      const auto u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        throw_error(fmt::format("integer {} in the input is larger than the supported 64-bit range", u));
      }
      return integer(static_cast<int64_t>(u));
    }
    case T::number_float:
      return floating(json.get<double>());
    case T::string:
      return string(json.get<std::string>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json(item, depth + 1));
      return list(std::move(items));
    }
    case T::object: {
      Dict d;
      d.items.reserve(json.size());
      for (const auto& [key, item] : json.items()) d.items.emplace_back(string(key), from_json(item, depth + 1));
      return dict(std::move(d));
    }
    case T::binary:
    case T::discarded:
      break;
  }
  throw_error("the input holds a JSON value of a kind templates cannot use (binary or discarded)");
}

int64_t Value::as_int() const {
  if (is_bool()) return as_bool() ? 1 : 0;
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (is_float()) return std::get<double>(data_);
  return static_cast<double>(as_int());
}

const std::string& Value::undefined_hint() const { return *std::get<Undefined>(data_).hint; }

bool Value::truthy() const {
  switch (kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
      return as_bool();
    case Kind::kInt:
      return as_int() != 0;
    case Kind::kFloat:
      return as_double() != 0.0;
    case Kind::kString:
      return !as_string().empty();
    case Kind::kList:
      return as_list().is_iterator() || !as_list().items.empty();
    case Kind::kDict:
      return !as_dict().items.empty();
    case Kind::kFunction:
    case Kind::kNamespace:
      return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kList: return as_list().is_view() ? as_list().view : as_list().is_tuple ? "tuple" : "list";
    case Kind::kDict: return "dict";
    case Kind::kFunction: return "function";
    case Kind::kNamespace: return "Namespace";
  }
  return "object";
}

bool Value::same_object(const Value& other) const {
  if (kind() != other.kind()) return false;
  switch (kind()) {
    case Kind::kList: return &as_list() == &other.as_list();
    case Kind::kDict: return &as_dict() == &other.as_dict();
    case Kind::kFunction: return &as_function() == &other.as_function();
    case Kind::kNamespace: return &as_namespace() == &other.as_namespace();
    default: return equals(*this, other);
  }
}

bool equals(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::kUndefined:
    case K::kNone:
      return true;
    case K::kString:
      return a.as_string() == b.as_string();
    case K::kList: {
      const auto& x = a.as_list().items;
      const auto& y = b.as_list().items;
      if (a.type_name() != b.type_name() || x.size() != y.size()) return false;
      if (a.as_list().is_iterator()) return a.same_object(b);
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case K::kDict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    }
    default:
      return a.same_object(b);
  }
}

bool less_than(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 order = code point order
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equals(x[i], y[i])) return less_than(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw_error(fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name()));
}

std::string python_float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form: [-]d[.ddd]e[+-]X.
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string sci(buffer, result.ptr);
  const size_t e_pos = sci.find('e');
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string mantissa = sci.substr(0, e_pos);
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out = negative ? "-" : "";
  // CPython's repr switches to exponent form when the decimal point position (exponent + 1) is <= -4 or > 16.
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out;
  }
  if (exponent < 0) {
    out.append("0.").append(static_cast<size_t>(-exponent - 1), '0').append(digits);
  } else if (static_cast<size_t>(exponent) + 1 >= digits.size()) {
    out.append(digits).append(static_cast<size_t>(exponent) + 1 - digits.size(), '0').append(".0");
  } else {
    out.append(digits, 0, exponent + 1).append(".").append(digits, exponent + 1);
  }
  return out;
}

std::string python_string_repr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : unicode::decode(text)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!unicode::is_printable(c)) {
      if (c < 0x100) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
      } else if (c < 0x10000) {
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      } else {
        out += fmt::format("\\U{:08x}", static_cast<unsigned>(c));
      }
    } else {
      unicode::append_utf8(c, out);
    }
  }
  out.push_back(quote);
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string repr(const Value& value) {
  using K = Value::Kind;
  switch (value.kind()) {
    case K::kString:
      if (value.is_markup()) return fmt::format("Markup({})", python_string_repr(value.as_string()));
      return python_string_repr(value.as_string());
    case K::kList: {
      const auto& l = value.as_list();
      if (l.is_iterator()) return fmt::format("<{} object>", l.view);
      if (l.is_view()) return fmt::format("{}({})", l.view, repr(Value::list(l.items)));
      std::string out = l.is_tuple ? "(" : "[";
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i > 0) out += ", ";
        out += repr(l.items[i]);
      }
      if (l.is_tuple && l.items.size() == 1) out += ",";
      out += l.is_tuple ? ")" : "]";
      return out;
    }
    case K::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : value.as_dict().items) {
        if (!first) out += ", ";
        first = false;
        out.append(repr(k)).append(": ").append(repr(v));
      }
      return out + "}";
    }
    case K::kUndefined:
      return "Undefined";
    default:
      return to_str(value);
  }
}

std::string to_str(const Value& value) {
  using K = Value::Kind;
  switch (value.kind()) {
    case K::kUndefined: return "";
    case K::kNone: return "None";
    case K::kBool: return value.as_bool() ? "True" : "False";
    case K::kInt: return std::to_string(value.as_int());
    case K::kFloat: return python_float_repr(value.as_double());
    case K::kString: return value.as_string();
    case K::kList:
    case K::kDict: return repr(value);
    case K::kFunction: return fmt::format("<function {}>", value.as_function().name);
    case K::kNamespace: return fmt::format("<Namespace {}>", repr(Value::dict(value.as_namespace().attributes)));
  }
  return "";
}

namespace {

void dump_string(std::string_view text, bool ensure_ascii, std::string& out) {
  out.push_back('"');
  for (char32_t c : unicode::decode(text)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
      if (c >= 0x10000) {  // ensure_ascii writes astral characters as a surrogate pair
        const char32_t v = c - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      }
    } else {
      unicode::append_utf8(c, out);
    }
  }
  out.push_back('"');
}

std::string json_key(const Value& key) {
  // json.dumps turns non-string keys into strings the way it writes them as values.
  if (key.is_string()) return key.as_string();
  if (key.is_bool()) return key.as_bool() ? "true" : "false";
  if (key.is_none()) return "null";
  if (key.is_int()) return std::to_string(key.as_int());
  if (key.is_float()) return python_float_repr(key.as_double());
  throw_error(fmt::format("keys must be str, int, float, bool or None, not {}", key.type_name()));
}

void dump(const Value& value, const JsonDumpOptions& options, int depth, std::string& out) {
  using K = Value::Kind;
  auto newline = [&](int level) {
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += *options.indent;
  };
  switch (value.kind()) {
    case K::kNone: out += "null"; return;
    case K::kBool: out += value.as_bool() ? "true" : "false"; return;
    case K::kInt: out += std::to_string(value.as_int()); return;
    case K::kFloat: {
      const double d = value.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += python_float_repr(d);
      return;
    }
    case K::kString: dump_string(value.as_string(), options.ensure_ascii, out); return;
    case K::kList: {
      if (value.as_list().is_view()) {
        throw_error(fmt::format("Object of type {} is not JSON serializable", value.as_list().view));
      }
      const auto& items = value.as_list().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += options.item_separator;
        if (options.indent) newline(depth + 1);
        dump(items[i], options, depth + 1, out);
      }
      if (options.indent) newline(depth);
      out.push_back(']');
      return;
    }
    case K::kDict: {
      std::vector<std::pair<std::string, const Value*>> entries;
      for (const auto& [k, v] : value.as_dict().items) entries.emplace_back(json_key(k), &v);
      if (entries.empty()) {
        out += "{}";
        return;
      }
      if (options.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto& x, const auto& y) { return x.first < y.first; });
      }
      out.push_back('{');
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += options.item_separator;
        if (options.indent) newline(depth + 1);
        dump_string(entries[i].first, options.ensure_ascii, out);
        out += options.key_separator;
        dump(*entries[i].second, options, depth + 1, out);
      }
      if (options.indent) newline(depth);
      out.push_back('}');
      return;
    }
    case K::kUndefined:
      throw_error("Object of type Undefined is not JSON serializable");
    case K::kFunction:
    case K::kNamespace:
      throw_error(fmt::format("Object of type {} is not JSON serializable", value.type_name()));
  }
}

}  // namespace

std::string json_dumps(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  dump(value, options, 0, out);
  return out;
}

}  // namespace fp4::chat::jinja
