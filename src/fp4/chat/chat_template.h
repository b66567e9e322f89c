// Chat templates: the Jinja program in a model's tokenizer_config.json (or chat_template.jinja) that turns a
// list of chat messages into the prompt text the model was trained on. Rendering matches Hugging Face
// transformers' apply_chat_template(tokenize=False) byte for byte: same whitespace control (trim_blocks,
// lstrip_blocks), same `tojson`, same variables (bos_token, eos_token, ... from the tokenizer config).
//
// Key order matters: templates print tool schemas and tool-call arguments with `tojson`, which keeps the
// order the client sent. Parse request bodies with nlohmann::ordered_json to keep it; a nlohmann::json
// argument converts implicitly but arrives with its keys sorted.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace fp4::chat {

namespace jinja {
class Template;  // the compiled program (jinja_template.h)
}

class ChatTemplate {
 public:
  // Reads tokenizer_config.json. The template comes from its "chat_template" field (a string, or a list of
  // {name, template} where "default" is used and "tool_use" is preferred when tools are given), or from a
  // chat_template.jinja file beside it, which transformers prefers when both exist. bos_token, eos_token and
  // the other special tokens become template variables. Throws fp4::Error naming the file and field.
  static ChatTemplate from_tokenizer_config_file(const std::filesystem::path& path);

  // Same, from an already parsed config; `origin` names it in error messages.
  static ChatTemplate from_tokenizer_config(const nlohmann::ordered_json& config, std::string_view origin);

  // A bare template; `special_tokens` is an object such as {"bos_token": "<s>", "eos_token": "</s>"}.
  static ChatTemplate from_source(std::string_view source, const nlohmann::ordered_json& special_tokens,
                                  std::string_view origin = "chat_template");

  // Renders the prompt.
  //   messages: array of {"role", "content", ...}; content may be a string, null or a list of parts;
  //             tool_calls[i].function.arguments may be a JSON string (as OpenAI clients send) or an object.
  //   tools:    array of tool schemas, or null for none (the template sees `tools` as none).
  //   extra:    object of additional variables, e.g. {"enable_thinking": false}; they override the special
  //             tokens of the same name.
  // Throws fp4::Error for a raise_exception() in the template (its message, prefixed by the template's
  // origin) or for a runtime error such as calling an unknown filter (with the template line).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt,
                     const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

  // The template source that was compiled (the "default" one when the config names several).
  const std::string& source() const;

 private:
  ChatTemplate() = default;  // only the factories above make one, so impl_ is never null
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace fp4::chat
