#include "fp4/chat/chat_template.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "fp4/base/error.h"
#include "fp4/chat/jinja_template.h"

namespace fp4::chat {

using nlohmann::ordered_json;

struct ChatTemplate::Impl {
  std::string origin;
  std::string default_source;
  std::optional<jinja::Template> single;            // "chat_template": "<source>"
  std::map<std::string, jinja::Template> named;     // "chat_template": [{"name", "template"}, ...]
  jinja::Dict special_tokens;                       // bos_token, eos_token, ... as strings
};

namespace {

// The named special tokens transformers passes to every chat template (its SPECIAL_TOKENS_ATTRIBUTES);
// a token is either a string or an AddedToken object {"content": ...}; null ones are left undefined.
constexpr const char* kSpecialTokenNames[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                              "pad_token", "cls_token", "mask_token"};

jinja::Dict special_tokens_from(const ordered_json& config, std::string_view origin) {
  jinja::Dict tokens;
  for (const char* name : kSpecialTokenNames) {
    auto it = config.find(name);
    if (it == config.end() || it->is_null()) continue;
    if (it->is_string()) {
      tokens.set(jinja::Value::string(name), jinja::Value::string(it->get<std::string>()));
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      tokens.set(jinja::Value::string(name), jinja::Value::string((*it)["content"].get<std::string>()));
    } else {
      fail("{}: field '{}' must be a string or an object with a string 'content'", origin, name);
    }
  }
  return tokens;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open {}", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("cannot read {}", path.string());
  return buffer.str();
}

// Messages as transformers hands them to the template: keys whose value is null are dropped (so
// `message.content is none` is false for "content": null, exactly as in transformers), and a reasoning
// text given as reasoning_content, thinking or reasoning is available under both "thinking" and
// "reasoning_content".
jinja::Value prepare_messages(const ordered_json& messages, std::string_view origin) {
  if (!messages.is_array()) fail("{}: messages must be a JSON array of message objects", origin);
  if (messages.empty()) fail("{}: cannot apply a chat template to an empty conversation", origin);
  std::vector<jinja::Value> out;
  out.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    const ordered_json& message = messages[i];
    if (!message.is_object()) {
      fail("{}: messages[{}] must be a JSON object, got {}", origin, i, message.type_name());
    }
    jinja::Dict fields;
    for (const auto& [key, value] : message.items()) {
      if (value.is_null()) continue;
      fields.items.emplace_back(jinja::Value::string(key), jinja::Value::from_json(value));
    }
    const jinja::Value* reasoning = nullptr;
    for (const char* key : {"reasoning_content", "thinking", "reasoning"}) {
      if (reasoning == nullptr) reasoning = fields.find(key);
    }
    if (reasoning != nullptr) {
      const jinja::Value text = *reasoning;
      jinja::Dict aliased;
      aliased.items.emplace_back(jinja::Value::string("thinking"), text);
      for (auto& [k, v] : fields.items) aliased.set(k, v);
      aliased.set(jinja::Value::string("reasoning_content"), text);
      fields = std::move(aliased);
    }
    out.push_back(jinja::Value::dict(std::move(fields)));
  }
  return jinja::Value::list(std::move(out));
}

}  // namespace

ChatTemplate ChatTemplate::from_tokenizer_config_file(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  ordered_json config;
  try {
    config = ordered_json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: invalid JSON: {}", path.string(), e.what());
  }
  if (!config.is_object()) fail("{}: expected a JSON object", path.string());
  // transformers stores the template in chat_template.jinja beside the config and prefers that file.
  const std::filesystem::path jinja_file = path.parent_path() / "chat_template.jinja";
  if (std::filesystem::exists(jinja_file)) {
    config["chat_template"] = read_file(jinja_file);
    return from_tokenizer_config(config, jinja_file.string());
  }
  return from_tokenizer_config(config, path.string());
}

ChatTemplate ChatTemplate::from_tokenizer_config(const ordered_json& config, std::string_view origin) {
  if (!config.is_object()) fail("{}: tokenizer config must be a JSON object", origin);
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) fail("{}: field 'chat_template' is missing: the model has no chat template", origin);
  auto impl = std::make_shared<Impl>();
  impl->origin = std::string(origin);
  impl->special_tokens = special_tokens_from(config, origin);
  if (it->is_string()) {
    impl->default_source = it->get<std::string>();
    impl->single.emplace(impl->default_source, fmt::format("{} chat_template", origin));
  } else if (it->is_array()) {
    for (size_t i = 0; i < it->size(); ++i) {
      const ordered_json& entry = (*it)[i];
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("template") ||
          !entry["template"].is_string()) {
        fail("{}: chat_template[{}] must be an object with string fields 'name' and 'template'", origin, i);
      }
      const std::string name = entry["name"].get<std::string>();
      const std::string source = entry["template"].get<std::string>();
      impl->named.try_emplace(name, source, fmt::format("{} chat_template '{}'", origin, name));
      if (name == "default") impl->default_source = source;
    }
  } else {
    fail("{}: field 'chat_template' must be a string or a list of {{name, template}} objects", origin);
  }
  ChatTemplate result;
  result.impl_ = std::move(impl);
  return result;
}

ChatTemplate ChatTemplate::from_source(std::string_view source, const ordered_json& special_tokens,
                                       std::string_view origin) {
  ordered_json config = special_tokens.is_object() ? special_tokens : ordered_json::object();
  if (!special_tokens.is_null() && !special_tokens.is_object()) fail("{}: special tokens must be a JSON object", origin);
  config["chat_template"] = std::string(source);
  auto impl = std::make_shared<Impl>();
  impl->origin = std::string(origin);
  impl->special_tokens = special_tokens_from(config, origin);
  impl->default_source = std::string(source);
  impl->single.emplace(source, std::string(origin));
  ChatTemplate result;
  result.impl_ = std::move(impl);
  return result;
}

const std::string& ChatTemplate::source() const { return impl_->default_source; }

std::string ChatTemplate::render(const ordered_json& messages, const ordered_json& tools, bool add_generation_prompt,
                                 const ordered_json& extra) const {
  const Impl& impl = *impl_;
  const jinja::Template* chosen = nullptr;
  if (impl.single) {
    chosen = &*impl.single;
  } else {
    auto pick = impl.named.end();
    if (!tools.is_null()) pick = impl.named.find("tool_use");
    if (pick == impl.named.end()) pick = impl.named.find("default");
    if (pick == impl.named.end()) {
      fail("{}: the config has several chat templates and none is named 'default'", impl.origin);
    }
    chosen = &pick->second;
  }
  if (!tools.is_null() && !tools.is_array()) fail("{}: tools must be a JSON array of tool schemas or null", impl.origin);
  if (tools.is_array()) {
    for (size_t i = 0; i < tools.size(); ++i) {
      if (!tools[i].is_object()) fail("{}: tools[{}] must be a JSON object (a tool schema)", impl.origin, i);
    }
  }
  if (!extra.is_null() && !extra.is_object()) fail("{}: extra template variables must be a JSON object", impl.origin);

  jinja::Dict variables = impl.special_tokens;
  if (extra.is_object()) {
    for (const auto& [key, value] : extra.items()) {
      if (key == "messages" || key == "tools" || key == "documents" || key == "add_generation_prompt") {
        fail("{}: extra variable '{}' clashes with an argument of render()", impl.origin, key);
      }
      try {
        variables.set(jinja::Value::string(key), jinja::Value::from_json(value));
      } catch (const jinja::RenderError& e) {
        fail("{}: extra variable '{}': {}", impl.origin, key, e.what());
      }
    }
  }
  try {
    variables.set(jinja::Value::string("messages"), prepare_messages(messages, impl.origin));
    variables.set(jinja::Value::string("tools"), jinja::Value::from_json(tools));
  } catch (const jinja::RenderError& e) {
    fail("{}: {}", impl.origin, e.what());
  }
  variables.set(jinja::Value::string("documents"), jinja::Value::none());
  variables.set(jinja::Value::string("add_generation_prompt"), jinja::Value::boolean(add_generation_prompt));
  return chosen->render(variables);
}

}  // namespace fp4::chat
