// Request bodies: bytes → a JSON object, and typed access to its fields with 400 errors that name the
// field. Hostile input is refused before the JSON library sees it: invalid UTF-8 (with the byte offset)
// and nesting deeper than kMaxJsonDepth (the parser recurses once per level).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::server {

inline constexpr int kMaxJsonDepth = 64;

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points above U+10FFFF
// included), or nullopt when the text is valid.
std::optional<size_t> first_invalid_utf8(std::string_view text);

// Parses a request body into a JSON object; throws HttpError 400 (invalid UTF-8, too deep, not JSON, not an
// object). Keys keep the client's order (chat templates print tool schemas in that order).
nlohmann::ordered_json parse_json_body(std::string_view body);

// Reads the fields of one JSON object. A JSON null counts as absent (OpenAI clients send null for unset
// options). Every accessor records the key as known; unknown() lists the others.
class FieldReader {
 public:
  explicit FieldReader(const nlohmann::ordered_json& object, std::string prefix = {});

  std::optional<double> number(const std::string& key);
  // An integer; a float with an integral value (3.0) is accepted, 3.5 and values beyond int64 are not.
  std::optional<int64_t> integer(const std::string& key);
  std::optional<bool> boolean(const std::string& key);
  std::optional<std::string> string(const std::string& key);
  // A string or a list of strings (OpenAI's "stop").
  std::optional<std::vector<std::string>> string_or_list(const std::string& key);
  std::optional<std::vector<int64_t>> integer_list(const std::string& key);
  // The raw value, or null when absent or null. Marks the key known.
  const nlohmann::ordered_json* raw(const std::string& key);
  // Marks keys as known without reading them (accepted with no effect, e.g. "user").
  void accept(std::initializer_list<const char*> keys);

  std::vector<std::string> unknown() const;
  // "prefix.key" for messages.
  std::string name(const std::string& key) const;

 private:
  const nlohmann::ordered_json& object_;
  std::string prefix_;
  std::set<std::string> known_;
};

// "a string", "an integer", ... for type errors.
std::string json_type_phrase(const nlohmann::ordered_json& value);

}  // namespace fp4::server
