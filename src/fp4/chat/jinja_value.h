// The values a Jinja template computes with. They follow Python's data model, because chat templates are
// written against Jinja on CPython and their output depends on it: str() of a float is its shortest
// round-trip repr ("1.0", "1e-05"), True prints as "True", dicts keep insertion order, 1 == 1.0 == True.
//
// Lists and dicts are immutable once built (transformers renders with Jinja's ImmutableSandboxedEnvironment,
// which forbids append/update/...), so they are shared by pointer and copying a Value is cheap. The one
// mutable object is namespace(), whose attributes `{% set ns.x = ... %}` assigns.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace fp4::chat::jinja {

class Value;
class Interpreter;

// An error raised while rendering; `line` is the template line (0 when not yet known). The template
// catches it and reports it as fp4::Error with the template's origin.
class RenderError : public std::runtime_error {
 public:
  RenderError(std::string message, int line = 0) : std::runtime_error(std::move(message)), line(line) {}
  int line;
};

// Raised by raise_exception(): the template author's own message.
class TemplateRaised : public RenderError {
 public:
  using RenderError::RenderError;
};

[[noreturn]] void throw_error(std::string message);

struct Undefined {
  // What was looked up, for the error message when the value is used: "'x' is undefined" or
  // "'dict object' has no attribute 'content'".
  std::shared_ptr<const std::string> hint;
};

// A str, or a markupsafe.Markup (what `| safe` and `| escape` return): adding a plain str to Markup
// HTML-escapes the plain one, which some templates rely on.
struct Text {
  std::shared_ptr<const std::string> value;
  bool markup = false;
};

// Deepest nesting of lists and dicts a value may have. Deeper values would overflow the stack when they
// are printed, compared or destroyed; JSON input and template-built values beyond it are rejected.
inline constexpr int kMaxValueDepth = 256;

struct List {
  std::vector<Value> items;
  int depth = 1;  // 1 + the deepest list or dict inside
  bool is_tuple = false;  // tuples print as (a, b) and are what dict.items() yields
  // Non-empty for the lazy objects Python hands templates instead of lists: "generator" (from map,
  // select, ...), "list_reverseiterator", "dict_items", "dict_keys", "dict_values". They iterate like
  // lists but cannot be indexed or serialized with tojson, and a generator is truthy even when empty.
  const char* view = "";
  bool is_view() const { return view[0] != '\0'; }
  bool is_iterator() const;  // generator or list_reverseiterator: no len(), always truthy
};

struct Dict {
  std::vector<std::pair<Value, Value>> items;  // insertion order, as Python dicts
  int depth() const;  // 1 + the deepest list or dict among the values
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  // Inserts or replaces (keeping the original position, as Python does).
  void set(Value key, Value value);
};

// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
};

struct Function {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> call;
};

struct Namespace {
  Dict attributes;
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction, kNamespace };

  Value() : data_(Undefined{}) {}
  static Value undefined(std::string hint);
  static Value none() { return Value(Data(nullptr)); }
  static Value boolean(bool b) { return Value(Data(b)); }
  static Value integer(int64_t i) { return Value(Data(i)); }
  static Value floating(double d) { return Value(Data(d)); }
  static Value string(std::string s) { return Value(Data(Text{std::make_shared<const std::string>(std::move(s)), false})); }
  static Value markup(std::string s) { return Value(Data(Text{std::make_shared<const std::string>(std::move(s)), true})); }
  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value view(std::vector<Value> items, const char* view_type);
  static Value dict(Dict d);
  static Value function(std::string name, std::function<Value(Interpreter&, CallArgs&)> call);
  static Value namespace_object(Dict attributes);

  // JSON → Value (objects keep their key order) and back. to_json fails for values JSON cannot hold.
  static Value from_json(const nlohmann::ordered_json& json, int depth = 0);

  // Nesting depth: 0 for scalars, 1 for a flat list or dict.
  int depth() const;

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }  // Python: bool is an int
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_function() const { return kind() == Kind::kFunction; }
  bool is_namespace() const { return kind() == Kind::kNamespace; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;     // bool or int
  double as_double() const;   // bool, int or float
  const std::string& as_string() const { return *std::get<Text>(data_).value; }
  bool is_markup() const { return is_string() && std::get<Text>(data_).markup; }
  const List& as_list() const { return *std::get<std::shared_ptr<const List>>(data_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(data_); }
  const Function& as_function() const { return *std::get<std::shared_ptr<const Function>>(data_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(data_); }
  const std::string& undefined_hint() const;

  // Python truthiness: None, False, 0, 0.0, "", [], {} and undefined are false.
  bool truthy() const;
  // Python's type name, as error messages print it ("str", "dict", "NoneType").
  std::string type_name() const;
  // Identity of shared objects (`is sameas`), equality of scalars.
  bool same_object(const Value& other) const;

 private:
  using Data = std::variant<Undefined, std::nullptr_t, bool, int64_t, double, Text,
                            std::shared_ptr<const List>, std::shared_ptr<const Dict>,
                            std::shared_ptr<const Function>, std::shared_ptr<Namespace>>;
  explicit Value(Data data) : data_(std::move(data)) {}
  Data data_;
};

// Python ==, with 1 == 1.0 == True and deep comparison of lists and dicts. Undefined equals only undefined.
bool equals(const Value& a, const Value& b);
// Python <: numbers with numbers, strings by code point, lists lexicographically; anything else fails.
bool less_than(const Value& a, const Value& b);

// str(value) as Python prints it; undefined prints as "". repr() as Python's repr.
std::string to_str(const Value& value);
std::string repr(const Value& value);
// Python's repr of a float: shortest round-trip digits, exponent form outside 1e-4 <= |x| < 1e16.
std::string python_float_repr(double value);
// Python's repr of a str: quotes chosen as Python does, non-printable characters escaped.
std::string python_string_repr(std::string_view text);
// markupsafe.escape: & < > " ' as HTML entities.
std::string html_escape(std::string_view text);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::optional<std::string> indent;  // nullopt: one line; otherwise the indent unit (spaces or a string)
  std::string item_separator = ", ";
  std::string key_separator = ": ";
};
// json.dumps(value, ...) exactly as Python's json module writes it.
std::string json_dumps(const Value& value, const JsonDumpOptions& options);

}  // namespace fp4::chat::jinja
