// Typed access to the fields of a JSON config object, with one-line errors that name the file and the
// field. Internal to fp4/io. A JSON null counts as absent (Hugging Face configs write null for "unset").
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/base/error.h"

namespace fp4::io::detail {

using nlohmann::json;

// Configs are shallow; deeper nesting is refused before parsing so hostile input cannot make the JSON
// library work without bound.
inline constexpr int kMaxConfigJsonDepth = 32;

// Nesting depth of brackets outside strings, stopping once past `limit`.
inline int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) break;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return max_depth;
}

// Parses a config file's text into a JSON object or throws "SOURCE: ..." naming the problem.
inline json parse_json_object(std::string_view text, std::string_view source) {
  FP4_CHECK(json_nesting_depth(text, kMaxConfigJsonDepth) <= kMaxConfigJsonDepth,
            "{}: JSON nested deeper than {} levels", source, kMaxConfigJsonDepth);
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", source, e.what());
  }
  FP4_CHECK(root.is_object(), "{}: expected a JSON object, got a {}", source, root.type_name());
  return root;
}

// Fields of one JSON object; `where` is "FILE" or "FILE: quantization_config" for messages.
class Fields {
 public:
  Fields(const json& object, std::string where) : obj_(&object), where_(std::move(where)) {}

  const std::string& where() const { return where_; }
  bool has(const char* key) const {
    auto it = obj_->find(key);
    return it != obj_->end() && !it->is_null();
  }
  // True when the key exists, even with a null value.
  bool present(const char* key) const { return obj_->contains(key); }
  const json* get(const char* key) const {
    auto it = obj_->find(key);
    return it == obj_->end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<int64_t> opt_int(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_number_integer()) return v->get<int64_t>();
    // Some exporters write integral values as floats ("factor": 40.0 is fine for a float field, but
    // "hidden_size": 7168.0 is not an integer field anyone writes); accept exact integers only.
    if (v->is_number_float()) {
      double d = v->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    }
    fail("{}: \"{}\" is {}, expected an integer", where_, key, v->dump());
  }
  int64_t req_int(const char* key) const {
    auto v = opt_int(key);
    FP4_CHECK(v.has_value(), "{}: missing required integer \"{}\"", where_, key);
    return *v;
  }
  int64_t int_or(const char* key, int64_t fallback) const { return opt_int(key).value_or(fallback); }
  // An integer in [lo, hi]; `fallback` when absent.
  int64_t int_in(const char* key, int64_t fallback, int64_t lo, int64_t hi) const {
    int64_t v = int_or(key, fallback);
    FP4_CHECK(v >= lo && v <= hi, "{}: \"{}\" is {}, expected {}..{}", where_, key, v, lo, hi);
    return v;
  }

  std::optional<double> opt_number(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    FP4_CHECK(v->is_number(), "{}: \"{}\" is {}, expected a number", where_, key, v->dump());
    double d = v->get<double>();
    FP4_CHECK(std::isfinite(d), "{}: \"{}\" is not finite", where_, key);
    return d;
  }
  double number_or(const char* key, double fallback) const { return opt_number(key).value_or(fallback); }
  double positive_number_or(const char* key, double fallback) const {
    double v = number_or(key, fallback);
    FP4_CHECK(v > 0, "{}: \"{}\" is {}, expected a positive number", where_, key, v);
    return v;
  }

  std::optional<bool> opt_bool(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    FP4_CHECK(v->is_boolean(), "{}: \"{}\" is {}, expected true or false", where_, key, v->dump());
    return v->get<bool>();
  }
  bool bool_or(const char* key, bool fallback) const { return opt_bool(key).value_or(fallback); }

  std::optional<std::string> opt_string(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    FP4_CHECK(v->is_string(), "{}: \"{}\" is {}, expected a string", where_, key, v->dump());
    return v->get<std::string>();
  }
  std::string string_or(const char* key, std::string fallback) const {
    return opt_string(key).value_or(std::move(fallback));
  }

  // A single integer or a list of integers (eos_token_id is either).
  std::vector<int64_t> int_list(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return {};
    if (v->is_number_integer()) return {v->get<int64_t>()};
    FP4_CHECK(v->is_array(), "{}: \"{}\" is {}, expected an integer or a list of integers", where_, key, v->dump());
    std::vector<int64_t> out;
    for (const auto& item : *v) {
      FP4_CHECK(item.is_number_integer(), "{}: \"{}\" holds {}, expected integers", where_, key, item.dump());
      out.push_back(item.get<int64_t>());
    }
    return out;
  }

  std::vector<std::string> string_list(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return {};
    FP4_CHECK(v->is_array(), "{}: \"{}\" is {}, expected a list of strings", where_, key, v->dump());
    std::vector<std::string> out;
    for (const auto& item : *v) {
      FP4_CHECK(item.is_string(), "{}: \"{}\" holds {}, expected strings", where_, key, item.dump());
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // A nested object (nullopt when absent); throws if the field is another JSON type.
  std::optional<Fields> opt_object(const char* key) const {
    const json* v = get(key);
    if (v == nullptr) return std::nullopt;
    FP4_CHECK(v->is_object(), "{}: \"{}\" is a {}, expected an object", where_, key, v->type_name());
    return Fields(*v, where_ + ": " + key);
  }

 private:
  const json* obj_;
  std::string where_;
};

}  // namespace fp4::io::detail
