// Field access for tokenizer.json with errors that name the file, the JSON path and what was expected.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "fp4/base/error.h"

namespace fp4::tokenizer {

using Json = nlohmann::json;

// Where in tokenizer.json a value sits, e.g. "tokenizer.json: pre_tokenizer.pretokenizers[2]".
class JsonPath {
 public:
  explicit JsonPath(std::string text) : text_(std::move(text)) {}
  JsonPath operator/(std::string_view key) const { return JsonPath(text_ + "." + std::string(key)); }
  JsonPath operator[](std::size_t index) const { return JsonPath(text_ + "[" + std::to_string(index) + "]"); }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

// Parsed JSON holds non-negative numbers as unsigned, JSON built in code may hold them as signed.
inline bool is_non_negative_integer(const Json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
}

inline const char* json_type_name(const Json& value) { return value.type_name(); }

inline const Json& require_object(const Json& value, const JsonPath& path) {
  if (!value.is_object()) fail("{}: expected an object, found {}", path.str(), json_type_name(value));
  return value;
}

inline const Json& require_field(const Json& object, std::string_view key, const JsonPath& path) {
  require_object(object, path);
  const auto it = object.find(key);
  if (it == object.end()) fail("{}: missing field \"{}\"", path.str(), key);
  return *it;
}

inline std::string string_field(const Json& object, std::string_view key, const JsonPath& path) {
  const Json& value = require_field(object, key, path);
  if (!value.is_string()) fail("{}: expected a string, found {}", (path / key).str(), json_type_name(value));
  return value.get<std::string>();
}

inline bool bool_field(const Json& object, std::string_view key, const JsonPath& path, bool fallback) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail("{}: expected true or false, found {}", (path / key).str(), json_type_name(*it));
  return it->get<bool>();
}

inline std::uint64_t uint_field(const Json& object, std::string_view key, const JsonPath& path,
                                std::uint64_t fallback) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!is_non_negative_integer(*it)) fail("{}: expected a non-negative integer, found {}", (path / key).str(), it->dump());
  return it->get<std::uint64_t>();
}

// The "type" of a component object.
inline std::string component_type(const Json& value, const JsonPath& path) { return string_field(value, "type", path); }

// A single character (e.g. the Metaspace replacement), as UTF-8.
std::string single_char_field(const Json& object, std::string_view key, const JsonPath& path, std::string_view fallback);

}  // namespace fp4::tokenizer
