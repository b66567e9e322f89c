// Methods of str, dict and list that templates call (`content.split('</think>')`, `message.get('x')`),
// with Python's semantics, and the global functions transformers gives chat templates.
#include <fmt/format.h>

#include <ctime>

#include "fp4/chat/jinja_builtins.h"
#include "fp4/chat/jinja_interpreter.h"
#include "fp4/chat/jinja_operations.h"
#include "fp4/chat/unicode_text.h"

namespace fp4::chat::jinja {

std::vector<std::optional<Value>> bind_arguments(std::string_view function, const CallArgs& args,
                                                 std::initializer_list<std::string_view> names) {
  std::vector<std::string_view> params(names);
  std::vector<std::optional<Value>> bound(params.size());
  if (args.positional.size() > params.size()) {
    throw_error(fmt::format("{}() takes at most {} argument(s) ({} given)", function, params.size(),
                            args.positional.size()));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [name, value] : args.keywords) {
    size_t i = 0;
    while (i < params.size() && params[i] != name) ++i;
    if (i == params.size()) throw_error(fmt::format("{}() got an unexpected keyword argument '{}'", function, name));
    if (bound[i]) throw_error(fmt::format("{}() got multiple values for argument '{}'", function, name));
    bound[i] = value;
  }
  return bound;
}

namespace {

using unicode::decode;
using unicode::encode;

const std::string& require_string(const std::optional<Value>& v, std::string_view what) {
  if (!v || !v->is_string()) {
    throw_error(fmt::format("{} must be a str, not {}", what, v ? v->type_name() : "nothing"));
  }
  return v->as_string();
}

int64_t optional_int(const std::optional<Value>& v, int64_t fallback, std::string_view what) {
  if (!v || v->is_none()) return fallback;
  if (!(v->is_int() || v->is_bool())) throw_error(fmt::format("{} must be an integer, not {}", what, v->type_name()));
  return v->as_int();
}

// strip/lstrip/rstrip: `chars` none → Python whitespace.
std::string strip(const std::string& s, const std::optional<Value>& chars, bool left, bool right) {
  const std::u32string cps = decode(s);
  std::u32string set;
  const bool whitespace = !chars || chars->is_none();
  if (!whitespace) set = decode(require_string(chars, "strip argument"));
  auto drop = [&](char32_t c) { return whitespace ? unicode::is_space(c) : set.find(c) != std::u32string::npos; };
  size_t begin = 0, end = cps.size();
  if (left) {
    while (begin < end && drop(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && drop(cps[end - 1])) --end;
  }
  return encode(std::u32string_view(cps).substr(begin, end - begin));
}

std::vector<std::string> split_whitespace(const std::string& s, int64_t max_split, bool from_right) {
  std::u32string cps = decode(s);
  std::vector<std::u32string> parts;
  if (!from_right) {
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && unicode::is_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        size_t end = cps.size();
        while (end > i && unicode::is_space(cps[end - 1])) --end;
        parts.push_back(cps.substr(i, end - i));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !unicode::is_space(cps[j])) ++j;
      parts.push_back(cps.substr(i, j - i));
      i = j;
    }
  } else {
    size_t i = cps.size();
    while (i > 0) {
      while (i > 0 && unicode::is_space(cps[i - 1])) --i;
      if (i == 0) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        size_t begin = 0;
        while (begin < i && unicode::is_space(cps[begin])) ++begin;
        parts.push_back(cps.substr(begin, i - begin));
        break;
      }
      size_t j = i;
      while (j > 0 && !unicode::is_space(cps[j - 1])) --j;
      parts.push_back(cps.substr(j, i - j));
      i = j;
    }
    std::reverse(parts.begin(), parts.end());
  }
  std::vector<std::string> out;
  for (const auto& p : parts) out.push_back(encode(p));
  return out;
}

std::vector<std::string> split_on(const std::string& s, const std::string& sep, int64_t max_split, bool from_right) {
  if (sep.empty()) throw_error("empty separator");
  std::vector<std::string> out;
  if (!from_right) {
    size_t start = 0;
    while (max_split < 0 || static_cast<int64_t>(out.size()) < max_split) {
      const size_t at = s.find(sep, start);
      if (at == std::string::npos) break;
      out.push_back(s.substr(start, at - start));
      start = at + sep.size();
    }
    out.push_back(s.substr(start));
    return out;
  }
  size_t end = s.size();
  while (max_split < 0 || static_cast<int64_t>(out.size()) < max_split) {
    if (end < sep.size()) break;
    const size_t at = s.rfind(sep, end - sep.size());
    if (at == std::string::npos) break;
    out.push_back(s.substr(at + sep.size(), end - at - sep.size()));
    end = at;
  }
  out.push_back(s.substr(0, end));
  std::reverse(out.begin(), out.end());
  return out;
}

Value string_list(const std::vector<std::string>& parts) {
  std::vector<Value> items;
  for (const auto& p : parts) items.push_back(Value::string(p));
  return Value::list(std::move(items));
}

bool affix_matches(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw_error(fmt::format("{}with first arg must be str or a tuple of str, not {}",
                                                prefix ? "starts" : "ends", a.type_name()));
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list() && affix.as_list().is_tuple) {
    for (const Value& a : affix.as_list().items) {
      if (one(a)) return true;
    }
    return false;
  }
  return one(affix);
}

std::string python_title(const std::string& s) {
  const std::u32string cps = decode(s);
  std::u32string out;
  bool previous_cased = false;
  for (char32_t c : cps) {
    const bool cased = unicode::is_lower(c) || unicode::is_upper(c);
    const std::u32string one(1, c);
    out += previous_cased ? unicode::lower(one) : unicode::capitalize(one);
    previous_cased = cased;
  }
  return encode(out);
}

std::string map_case(const std::string& s, bool upper) {
  const std::u32string cps = decode(s);
  return encode(upper ? unicode::upper(cps) : unicode::lower(cps));
}

// str.format with automatic ({}) or explicit ({0}, {name}) fields and !s/!r conversions.
std::string python_str_format(const std::string& format, const CallArgs& args) {
  std::string out;
  size_t automatic = 0;
  bool used_automatic = false, used_manual = false;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if (c == '}') {
      if (i + 1 < format.size() && format[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      throw_error("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < format.size() && format[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = format.find('}', i);
    if (close == std::string::npos) throw_error("Single '{' encountered in format string");
    std::string field = format.substr(i + 1, close - i - 1);
    i = close;
    char conversion = 0;
    if (const size_t bang = field.find('!'); bang != std::string::npos) {
      if (bang + 2 != field.size()) throw_error("unsupported conversion in format string");
      conversion = field[bang + 1];
      field.resize(bang);
    }
    if (field.find(':') != std::string::npos) throw_error("format specifications in str.format are not supported");
    Value value;
    const bool numbered = !field.empty() && field.find_first_not_of("0123456789") == std::string::npos;
    if (field.empty()) used_automatic = true;
    if (numbered) used_manual = true;
    if (used_automatic && used_manual) {
      throw_error("cannot switch between automatic field numbering and manual field specification");
    }
    if (field.empty()) {
      if (automatic >= args.positional.size()) throw_error("Replacement index out of range for positional args tuple");
      value = args.positional[automatic++];
    } else if (field.find_first_not_of("0123456789") == std::string::npos) {
      const size_t index = std::stoul(field);
      if (index >= args.positional.size()) throw_error("Replacement index out of range for positional args tuple");
      value = args.positional[index];
    } else {
      bool found = false;
      for (const auto& [name, v] : args.keywords) {
        if (name == field) value = v, found = true;
      }
      if (!found) throw_error(fmt::format("KeyError: '{}'", field));
    }
    out += conversion == 'r' ? repr(value) : to_str(value);
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s, bool keep_ends) {
  const std::u32string cps = decode(s);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const bool is_break = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) ||
                          c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!is_break) continue;
    size_t end = i + 1;
    if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') end = i + 2;
    out.push_back(encode(std::u32string_view(cps).substr(start, (keep_ends ? end : i) - start)));
    start = end;
    i = end - 1;
  }
  if (start < cps.size()) out.push_back(encode(std::u32string_view(cps).substr(start)));
  return out;
}

std::optional<Value> string_method(const Value& self, std::string_view name) {
  const std::string s = self.as_string();
  auto method = [&](auto body) {
    return Value::function(std::string("str.") + std::string(name),
                           [s, body, n = std::string(name)](Interpreter& interp, CallArgs& args) { return body(interp, s, args, n); });
  };
  if (name == "startswith" || name == "endswith") {
    const bool prefix = name == "startswith";
    return method([prefix](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      auto a = bind_arguments(n, args, {"affix", "start", "end"});
      if (!a[0]) throw_error(n + "() takes at least 1 argument (0 given)");
      if (a[1] || a[2]) {
        const std::u32string cps = decode(str);
        const int64_t size = static_cast<int64_t>(cps.size());
        auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + size : v, 0, size); };
        const int64_t b = clamp(optional_int(a[1], 0, "start"));
        const int64_t e = clamp(optional_int(a[2], size, "end"));
        const std::string part = b < e ? encode(std::u32string_view(cps).substr(b, e - b)) : "";
        return Value::boolean(affix_matches(part, *a[0], prefix));
      }
      return Value::boolean(affix_matches(str, *a[0], prefix));
    });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool left = name != "rstrip", right = name != "lstrip";
    return method([left, right](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      auto a = bind_arguments(n, args, {"chars"});
      return Value::string(strip(str, a[0], left, right));
    });
  }
  if (name == "split" || name == "rsplit") {
    const bool from_right = name == "rsplit";
    return method([from_right](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      auto a = bind_arguments(n, args, {"sep", "maxsplit"});
      const int64_t max_split = optional_int(a[1], -1, "maxsplit");
      if (!a[0] || a[0]->is_none()) return string_list(split_whitespace(str, max_split, from_right));
      return string_list(split_on(str, require_string(a[0], "separator"), max_split, from_right));
    });
  }
  if (name == "splitlines") {
    return method([](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      auto a = bind_arguments(n, args, {"keepends"});
      return string_list(split_lines(str, a[0] && a[0]->truthy()));
    });
  }
  if (name == "replace") {
    return method([](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      auto a = bind_arguments(n, args, {"old", "new", "count"});
      const std::string& from = require_string(a[0], "replace() old");
      const std::string& to = require_string(a[1], "replace() new");
      int64_t count = optional_int(a[2], -1, "count");
      if (from.empty()) {  // Python inserts `to` between every character and at both ends
        std::u32string cps = decode(str);
        std::string out;
        for (size_t i = 0; i <= cps.size(); ++i) {
          if (count < 0 || static_cast<int64_t>(i) < count) out += to;
          if (i < cps.size()) unicode::append_utf8(cps[i], out);
          if (out.size() > kMaxBuiltSize) throw_error("replace() result is too large");
        }
        return Value::string(std::move(out));
      }
      std::string out;
      size_t start = 0;
      while (count != 0) {
        const size_t at = str.find(from, start);
        if (at == std::string::npos) break;
        out.append(str, start, at - start);
        out += to;
        if (out.size() > kMaxBuiltSize) throw_error("replace() result is too large");
        start = at + from.size();
        if (count > 0) --count;
      }
      out.append(str, start);
      return Value::string(std::move(out));
    });
  }
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" || name == "swapcase") {
    return method([](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      bind_arguments(n, args, {});
      if (n == "upper") return Value::string(map_case(str, true));
      if (n == "lower") return Value::string(map_case(str, false));
      if (n == "title") return Value::string(python_title(str));
      std::u32string cps = decode(str);
      if (n == "capitalize") return Value::string(encode(unicode::capitalize(cps)));
      for (char32_t& c : cps) c = unicode::is_upper(c) ? unicode::to_lower(c) : unicode::to_upper(c);
      return Value::string(encode(cps));
    });
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    return method([](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      auto a = bind_arguments(n, args, {"sub"});
      const std::string& sub = require_string(a[0], n + "() argument");
      if (n == "count") {
        if (sub.empty()) return Value::integer(static_cast<int64_t>(decode(str).size()) + 1);
        int64_t count = 0;
        for (size_t at = str.find(sub); at != std::string::npos; at = str.find(sub, at + sub.size())) ++count;
        return Value::integer(count);
      }
      const size_t at = (n[0] == 'r') ? str.rfind(sub) : str.find(sub);
      if (at == std::string::npos) {
        if (n == "index" || n == "rindex") throw_error("substring not found");
        return Value::integer(-1);
      }
      return Value::integer(static_cast<int64_t>(decode(std::string_view(str).substr(0, at)).size()));
    });
  }
  if (name == "join") {
    return method([](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      auto a = bind_arguments(n, args, {"iterable"});
      if (!a[0]) throw_error("join() takes exactly one argument (0 given)");
      std::string out;
      bool first = true;
      for (const Value& item : iterate(*a[0])) {
        if (!item.is_string()) throw_error(fmt::format("sequence item: expected str instance, {} found", item.type_name()));
        if (!first) out += str;
        first = false;
        out += item.as_string();
        if (out.size() > kMaxBuiltSize) throw_error("join() result is too large");
      }
      return Value::string(std::move(out));
    });
  }
  if (name == "format") {
    return method([](Interpreter&, const std::string& str, CallArgs& args, const std::string&) {
      return Value::string(python_str_format(str, args));
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
      name == "isupper") {
    return method([](Interpreter&, const std::string& str, CallArgs& args, const std::string& n) {
      bind_arguments(n, args, {});
      const std::u32string cps = decode(str);
      if (cps.empty()) return Value::boolean(false);
      if (n == "islower" || n == "isupper") {
        bool cased = false;
        for (char32_t c : cps) {
          if ((n == "islower" && unicode::is_upper(c)) || (n == "isupper" && unicode::is_lower(c))) return Value::boolean(false);
          cased = cased || unicode::is_lower(c) || unicode::is_upper(c);
        }
        return Value::boolean(cased);
      }
      for (char32_t c : cps) {
        const bool ok = n == "isdigit"   ? unicode::is_digit(c)
                        : n == "isalpha" ? unicode::is_alpha(c)
                        : n == "isspace" ? unicode::is_space(c)
                                         : (unicode::is_alpha(c) || unicode::is_digit(c));
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    });
  }
  return std::nullopt;
}

std::optional<Value> dict_method(const Value& self, std::string_view name) {
  const Value dict = self;
  if (name == "items" || name == "keys" || name == "values") {
    return Value::function(fmt::format("dict.{}", name), [dict, n = std::string(name)](Interpreter&, CallArgs& args) {
      bind_arguments(n, args, {});
      std::vector<Value> out;
      for (const auto& [k, v] : dict.as_dict().items) {
        out.push_back(n == "items" ? Value::list({k, v}, true) : n == "keys" ? k : v);
      }
      return Value::view(std::move(out), n == "items" ? "dict_items" : n == "keys" ? "dict_keys" : "dict_values");
    });
  }
  if (name == "get") {
    return Value::function("dict.get", [dict](Interpreter&, CallArgs& args) {
      auto a = bind_arguments("get", args, {"key", "default"});
      if (!a[0]) throw_error("get expected at least 1 argument, got 0");
      const Value* v = dict.as_dict().find(*a[0]);
      return v != nullptr ? *v : a[1].value_or(Value::none());
    });
  }
  if (name == "copy") {
    return Value::function("dict.copy", [dict](Interpreter&, CallArgs&) { return dict; });
  }
  return std::nullopt;
}

std::optional<Value> list_method(const Value& self, std::string_view name) {
  const Value list = self;
  if (name == "index" || name == "count") {
    return Value::function(fmt::format("list.{}", name), [list, n = std::string(name)](Interpreter&, CallArgs& args) {
      auto a = bind_arguments(n, args, {"value"});
      if (!a[0]) throw_error(n + "() takes exactly one argument (0 given)");
      int64_t count = 0;
      const auto& items = list.as_list().items;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!equals(items[i], *a[0])) continue;
        if (n == "index") return Value::integer(static_cast<int64_t>(i));
        ++count;
      }
      if (n == "index") throw_error(fmt::format("{} is not in list", repr(*a[0])));
      return Value::integer(count);
    });
  }
  return std::nullopt;
}

}  // namespace

std::optional<Value> bound_method(const Value& self, std::string_view name) {
  static constexpr std::string_view kMutating[] = {"append", "extend", "insert", "pop", "remove", "clear", "sort",
                                                   "reverse", "update", "setdefault", "popitem", "add", "discard"};
  if (self.is_list() || self.is_dict()) {
    for (auto m : kMutating) {
      if (name == m) {
        throw_error(fmt::format("access to attribute '{}' of '{}' object is unsafe (templates cannot modify "
                                "lists or dicts)",
                                name, self.type_name()));
      }
    }
  }
  if (self.is_string()) return string_method(self, name);
  if (self.is_dict()) return dict_method(self, name);
  if (self.is_list()) return list_method(self, name);
  return std::nullopt;
}

namespace {

// Jinja's sandbox refuses ranges longer than this (MAX_RANGE).
constexpr int64_t kMaxRange = 100000;

Value range_function(Interpreter&, CallArgs& args) {
  if (!args.keywords.empty()) throw_error("range() takes no keyword arguments");
  std::vector<int64_t> n;
  for (const Value& v : args.positional) {
    if (v.is_undefined()) fail_undefined(v);
    if (!(v.is_int() || v.is_bool())) throw_error(fmt::format("'{}' object cannot be interpreted as an integer", v.type_name()));
    n.push_back(v.as_int());
  }
  if (n.empty() || n.size() > 3) throw_error(fmt::format("range expected 1 to 3 arguments, got {}", n.size()));
  const int64_t start = n.size() == 1 ? 0 : n[0];
  const int64_t stop = n.size() == 1 ? n[0] : n[1];
  const int64_t step = n.size() == 3 ? n[2] : 1;
  if (step == 0) throw_error("range() arg 3 must not be zero");
  const __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  const __int128 count = span <= 0 ? 0 : (span + (step > 0 ? step : -static_cast<__int128>(step)) - 1) / (step > 0 ? step : -static_cast<__int128>(step));
  if (count > kMaxRange) {
    throw_error(fmt::format("Range too big. The sandbox blocks ranges larger than MAX_RANGE ({}).", kMaxRange));
  }
  std::vector<Value> items;
  for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) items.push_back(Value::integer(start + i * step));
  return Value::list(std::move(items));
}

// dict(mapping or pairs, **kwargs) and namespace(...) take the same arguments.
Dict dict_from_arguments(std::string_view function, const CallArgs& args) {
  if (args.positional.size() > 1) throw_error(fmt::format("{} expected at most 1 argument, got {}", function, args.positional.size()));
  Dict d;
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_dict()) {
      d = source.as_dict();
    } else if (source.is_namespace()) {
      d = source.as_namespace().attributes;
    } else {
      for (const Value& pair : iterate(source)) {
        if (!pair.is_list() || pair.as_list().items.size() != 2) {
          throw_error(fmt::format("{} sequence elements must be pairs", function));
        }
        d.set(pair.as_list().items[0], pair.as_list().items[1]);
      }
    }
  }
  for (const auto& [name, value] : args.keywords) d.set(Value::string(name), value);
  return d;
}

}  // namespace

void add_default_globals(Dict& globals) {
  globals.set(Value::string("range"), Value::function("range", range_function));
  globals.set(Value::string("dict"), Value::function("dict", [](Interpreter&, CallArgs& args) {
                return Value::dict(dict_from_arguments("dict", args));
              }));
  globals.set(Value::string("namespace"), Value::function("namespace", [](Interpreter&, CallArgs& args) {
                Dict attributes = dict_from_arguments("namespace", args);
                for (const auto& [k, v] : attributes.items) {
                  if (k.is_string() && !k.as_string().empty() && k.as_string()[0] == '_') {
                    throw_error(fmt::format("chat templates cannot store underscore-prefixed attributes on a "
                                            "namespace, but got '{}'",
                                            k.as_string()));
                  }
                }
                return Value::namespace_object(std::move(attributes));
              }));
  globals.set(Value::string("raise_exception"), Value::function("raise_exception", [](Interpreter&, CallArgs& args) -> Value {
                auto a = bind_arguments("raise_exception", args, {"message"});
                throw TemplateRaised(a[0] ? to_str(*a[0]) : "");
              }));
  globals.set(Value::string("strftime_now"), Value::function("strftime_now", [](Interpreter&, CallArgs& args) {
                auto a = bind_arguments("strftime_now", args, {"format"});
                const std::string& format = require_string(a[0], "strftime_now() format");
                const std::time_t now = std::time(nullptr);
                std::tm local{};
                localtime_r(&now, &local);
                std::string out(256 + format.size() * 16, '\0');
                const size_t n = std::strftime(out.data(), out.size(), format.c_str(), &local);
                if (n == 0 && !format.empty()) throw_error("strftime_now() format produced no output or is too long");
                out.resize(n);
                return Value::string(std::move(out));
              }));
}

}  // namespace fp4::chat::jinja
