// tokenizer_config.json: the fields of transformers' tokenizer configuration the engine uses.
#include "fp4/tokenizer/json_fields.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::tokenizer {
namespace {

// Special tokens appear as a plain string or as an AddedToken object {"content": ...}; null means unset.
std::optional<std::string> token_text(const Json& root, std::string_view key, const JsonPath& path) {
  const auto it = root.find(key);
  if (it == root.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return string_field(*it, "content", path / key);
  fail("{}: expected a string, an object with \"content\", or null; found {}", (path / key).str(), it->dump());
}

std::optional<bool> optional_bool(const Json& root, std::string_view key, const JsonPath& path) {
  const auto it = root.find(key);
  if (it == root.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) fail("{}: expected true or false, found {}", (path / key).str(), it->dump());
  return it->get<bool>();
}

}  // namespace

TokenizerConfig parse_tokenizer_config(std::string_view json_text, std::string_view source) {
  Json root;
  try {
    root = Json::parse(json_text.begin(), json_text.end());
  } catch (const Json::parse_error& e) {
    fail("{}: malformed JSON: {}", source, e.what());
  }
  const JsonPath path{std::string(source) + ":"};
  require_object(root, path);
  TokenizerConfig config;
  if (const auto it = root.find("tokenizer_class"); it != root.end() && it->is_string()) {
    config.tokenizer_class = it->get<std::string>();
  }
  config.bos_token = token_text(root, "bos_token", path);
  config.eos_token = token_text(root, "eos_token", path);
  config.pad_token = token_text(root, "pad_token", path);
  config.unk_token = token_text(root, "unk_token", path);
  config.add_bos_token = optional_bool(root, "add_bos_token", path);
  config.add_eos_token = optional_bool(root, "add_eos_token", path);
  config.clean_up_tokenization_spaces = optional_bool(root, "clean_up_tokenization_spaces", path).value_or(false);
  if (const auto it = root.find("model_max_length"); it != root.end() && is_non_negative_integer(*it)) {
    config.model_max_length = it->get<std::uint64_t>();
  }
  if (const auto it = root.find("chat_template"); it != root.end() && !it->is_null()) {
    if (it->is_string()) {
      config.chat_template = it->get<std::string>();
    } else if (it->is_array()) {
      // A list of {"name", "template"}: the engine's default is the one named "default".
      for (std::size_t i = 0; i < it->size(); ++i) {
        const Json& entry = (*it)[i];
        const JsonPath entry_path = (path / "chat_template")[i];
        if (string_field(entry, "name", entry_path) == "default") config.chat_template = string_field(entry, "template", entry_path);
      }
    } else {
      fail("{}: expected a string or a list of named templates, found {}", (path / "chat_template").str(), it->type_name());
    }
  }
  return config;
}

}  // namespace fp4::tokenizer
