#include "fp4/server/json_body.h"

#include <cmath>
#include <limits>

#include "fp4/server/http_error.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

// Bracket depth outside strings, stopping as soon as it exceeds `limit`.
int nesting_depth(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return depth < 0 ? 0 : depth;
}

[[noreturn]] void wrong_type(const std::string& name, const char* expected, const ordered_json& got) {
  reject_field(name, fmt::format("expected {}, got {}", expected, json_type_phrase(got)));
}

}  // namespace

std::optional<size_t> first_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;  // a continuation byte or 0xF8..0xFF where a sequence must start
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Shortest form only, no UTF-16 surrogates, nothing past U+10FFFF (RFC 3629 §3).
    const uint32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
    if (cp < min_cp || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::nullopt;
}

ordered_json parse_json_body(std::string_view body) {
  if (body.empty()) throw HttpError(400, "request body is empty: expected a JSON object");
  if (auto bad = first_invalid_utf8(body)) {
    throw HttpError(400, fmt::format("request body is not valid UTF-8 (byte offset {})", *bad));
  }
  if (nesting_depth(body, kMaxJsonDepth) > kMaxJsonDepth) {
    throw HttpError(400, fmt::format("request body nests JSON deeper than {} levels", kMaxJsonDepth));
  }
  ordered_json root;
  try {
    root = ordered_json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::exception& e) {
    // The library's message carries the line and column of the problem.
    std::string what = e.what();
    if (const size_t at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
    throw HttpError(400, "request body is not valid JSON: " + what);
  }
  if (!root.is_object()) {
    throw HttpError(400, fmt::format("request body must be a JSON object, got {}", json_type_phrase(root)));
  }
  return root;
}

std::string json_type_phrase(const ordered_json& v) {
  switch (v.type()) {
    case ordered_json::value_t::null:
      return "null";
    case ordered_json::value_t::boolean:
      return "a boolean";
    case ordered_json::value_t::string:
      return "a string";
    case ordered_json::value_t::number_integer:
    case ordered_json::value_t::number_unsigned:
      return "an integer";
    case ordered_json::value_t::number_float:
      return "a number";
    case ordered_json::value_t::array:
      return "a list";
    case ordered_json::value_t::object:
      return "an object";
    default:
      return "an unsupported value";
  }
}

FieldReader::FieldReader(const ordered_json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

std::string FieldReader::name(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

const ordered_json* FieldReader::raw(const std::string& key) {
  known_.insert(key);
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

void FieldReader::accept(std::initializer_list<const char*> keys) {
  for (const char* k : keys) known_.insert(k);
}

std::optional<double> FieldReader::number(const std::string& key) {
  const ordered_json* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(name(key), "a number", *v);
  return v->get<double>();
}

std::optional<int64_t> FieldReader::integer(const std::string& key) {
  const ordered_json* v = raw(key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      reject_field(name(key), fmt::format("{} is out of range (at most {})", u, std::numeric_limits<int64_t>::max()));
    }
    return static_cast<int64_t>(u);
  }
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_number_float()) {
    const double d = v->get<double>();
    // 2^63 is the first double past int64; integral doubles below it convert exactly.
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2233720368547758e18) {
      return static_cast<int64_t>(d);
    }
    reject_field(name(key), fmt::format("expected an integer, got {}", v->dump()));
  }
  wrong_type(name(key), "an integer", *v);
}

std::optional<bool> FieldReader::boolean(const std::string& key) {
  const ordered_json* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(name(key), "true or false", *v);
  return v->get<bool>();
}

std::optional<std::string> FieldReader::string(const std::string& key) {
  const ordered_json* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong_type(name(key), "a string", *v);
  return v->get<std::string>();
}

std::optional<std::vector<std::string>> FieldReader::string_or_list(const std::string& key) {
  const ordered_json* v = raw(key);
  if (!v) return std::nullopt;
  if (v->is_string()) return std::vector<std::string>{v->get<std::string>()};
  if (!v->is_array()) wrong_type(name(key), "a string or a list of strings", *v);
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const ordered_json& item = (*v)[i];
    if (!item.is_string()) wrong_type(fmt::format("{}[{}]", name(key), i), "a string", item);
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<std::vector<int64_t>> FieldReader::integer_list(const std::string& key) {
  const ordered_json* v = raw(key);
  if (!v) return std::nullopt;
  if (!v->is_array()) wrong_type(name(key), "a list of integers", *v);
  std::vector<int64_t> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const ordered_json& item = (*v)[i];
    if (!item.is_number_integer()) wrong_type(fmt::format("{}[{}]", name(key), i), "an integer", item);
    if (item.is_number_unsigned() && item.get<uint64_t>() > uint64_t{1} << 62) {
      reject_field(fmt::format("{}[{}]", name(key), i), "is out of range");
    }
    out.push_back(item.get<int64_t>());
  }
  return out;
}

std::vector<std::string> FieldReader::unknown() const {
  std::vector<std::string> out;
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (!known_.count(it.key())) out.push_back(it.key());
  }
  return out;
}

}  // namespace fp4::server
