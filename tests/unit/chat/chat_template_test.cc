// ChatTemplate: loading tokenizer configs and preparing messages the way transformers' apply_chat_template
// does (null keys dropped, reasoning fields aliased, special tokens as variables).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fp4/base/error.h"
#include "fp4/chat/chat_template.h"

namespace fp4::chat {
namespace {

using nlohmann::ordered_json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const fp4::Error& e) {
    return e.what();
  }
  return "no error";
}

// A DeepSeek-style template written for this test: bos, user/assistant markers, reasoning stripped.
constexpr const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|User|>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<|Assistant|>{{ m['content'].split('</think>')[-1] }}{{ eos_token }}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|Assistant|>{% endif %}";

ordered_json config_with(ordered_json chat_template) {
  return ordered_json{{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}},
                      {"eos_token", "</s>"},
                      {"unk_token", nullptr},
                      {"chat_template", std::move(chat_template)}};
}

TEST(ChatTemplate, RendersWithSpecialTokensFromConfig) {
  const auto t = ChatTemplate::from_tokenizer_config(config_with(kTemplate), "cfg");
  const ordered_json messages = ordered_json::parse(
      R"([{"role": "user", "content": "안녕"}, {"role": "assistant", "content": "<think>hm</think>Hi"},
          {"role": "user", "content": "2+2?"}])");
  EXPECT_EQ(t.render(messages, nullptr, true), "<s><|User|>안녕<|Assistant|>Hi</s><|User|>2+2?<|Assistant|>");
  EXPECT_EQ(t.render(messages, nullptr, false), "<s><|User|>안녕<|Assistant|>Hi</s><|User|>2+2?");
  EXPECT_EQ(t.source(), kTemplate);
}

TEST(ChatTemplate, PreparesMessagesLikeTransformers) {
  const auto t = ChatTemplate::from_source(
      "{% for m in messages %}{{ m.content is defined }}/{{ m.reasoning_content }}/{{ m.thinking }};{% endfor %}"
      "{{ tools is none }} {{ enable_thinking }}",
      ordered_json::object());
  const ordered_json messages = ordered_json::parse(
      R"([{"role": "assistant", "content": null}, {"role": "assistant", "content": "a", "reasoning": "why"}])");
  EXPECT_EQ(t.render(messages, nullptr, false, {{"enable_thinking", false}}), "False//;True/why/why;True False");
}

TEST(ChatTemplate, ToolCallArgumentsAsStringOrObject) {
  const auto t = ChatTemplate::from_source(
      "{% for c in messages[0].tool_calls %}{% set f = c.function %}"
      "{{ f.arguments if f.arguments is string else f.arguments | tojson }};{% endfor %}",
      ordered_json::object());
  const ordered_json messages = ordered_json::parse(R"([{"role": "assistant", "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": "{\"city\": \"Seoul\"}"}},
      {"type": "function", "function": {"name": "f", "arguments": {"city": "서울", "n": 1.0}}}]}])");
  EXPECT_EQ(t.render(messages, nullptr, false), R"({"city": "Seoul"};{"city": "서울", "n": 1.0};)");
}

TEST(ChatTemplate, NamedTemplatesPreferToolUseWhenToolsAreGiven) {
  const ordered_json named = ordered_json::array(
      {{{"name", "default"}, {"template", "default"}}, {{"name", "tool_use"}, {"template", "tools:{{ tools | length }}"}}});
  const auto t = ChatTemplate::from_tokenizer_config(config_with(named), "cfg");
  const ordered_json messages = ordered_json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(t.render(messages, nullptr, false), "default");
  EXPECT_EQ(t.render(messages, ordered_json::parse(R"([{"type": "function"}])"), false), "tools:1");
}

TEST(ChatTemplate, ChatTemplateJinjaFileTakesPrecedence) {
  const auto dir = std::filesystem::temp_directory_path() / "fp4_chat_template_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json") << config_with("from config").dump();
  std::ofstream(dir / "chat_template.jinja") << "from file {{ bos_token }}\n";
  const auto t = ChatTemplate::from_tokenizer_config_file(dir / "tokenizer_config.json");
  EXPECT_EQ(t.render(ordered_json::parse(R"([{"role": "user", "content": "x"}])"), nullptr, false), "from file <s>");
  std::filesystem::remove_all(dir);
}

TEST(ChatTemplate, BadInputsGiveOneLineErrors) {
  EXPECT_NE(error_of([] { ChatTemplate::from_tokenizer_config(ordered_json{{"eos_token", "x"}}, "cfg.json"); })
                .find("cfg.json: field 'chat_template' is missing"),
            std::string::npos);
  EXPECT_NE(error_of([] { ChatTemplate::from_tokenizer_config_file("/nonexistent/tokenizer_config.json"); })
                .find("cannot open"),
            std::string::npos);
  const auto t = ChatTemplate::from_tokenizer_config(config_with(kTemplate), "cfg");
  EXPECT_NE(error_of([&] { t.render(ordered_json::object(), nullptr, false); }).find("messages must be a JSON array"),
            std::string::npos);
  EXPECT_NE(error_of([&] { t.render(ordered_json::array(), nullptr, false); }).find("empty conversation"),
            std::string::npos);
  EXPECT_NE(error_of([&] { t.render(ordered_json::array({"x"}), nullptr, false); }).find("messages[0] must be a JSON object"),
            std::string::npos);
  const ordered_json one = ordered_json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_NE(error_of([&] { t.render(one, "tools", false); }).find("tools must be a JSON array"), std::string::npos);
  EXPECT_NE(error_of([&] { t.render(one, nullptr, false, {{"messages", 1}}); }).find("clashes"), std::string::npos);
  // An assistant turn whose content is null reaches the template undefined, and `.split` on it fails.
  const ordered_json null_content = ordered_json::parse(R"([{"role": "assistant", "content": null}])");
  EXPECT_NE(error_of([&] { t.render(null_content, nullptr, false); }).find("cfg chat_template line 1"),
            std::string::npos);
}

}  // namespace
}  // namespace fp4::chat
