// Fuzzes the chat-template interpreter: the input is a template, rendered with a fixed conversation.
// Any input must either render or fail with fp4::Error; crashes, hangs and leaks are bugs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fp4/base/error.h"
#include "fp4/chat/chat_template.h"

namespace {

const nlohmann::ordered_json& conversation() {
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "다음 방정식을 풀어주세요 x^2 = 4"},
    {"role": "assistant", "content": "<think>x = ±2</think>x = 2 or x = -2", "reasoning_content": "easy"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "calc", "arguments": "{\"e\": \"2*2\"}"}},
      {"type": "function", "function": {"name": "calc", "arguments": {"e": [1, 2.5, true, null]}}}]},
    {"role": "tool", "content": "4"},
    {"role": "user", "content": [{"type": "text", "text": "parts 👍🏽"}]}
  ])");
  return messages;
}

const nlohmann::ordered_json& tools() {
  static const nlohmann::ordered_json value = nlohmann::ordered_json::parse(
      R"([{"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}])");
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  try {
    const auto chat_template = fp4::chat::ChatTemplate::from_source(
        source, {{"bos_token", "<s>"}, {"eos_token", "</s>"}}, "fuzz");
    chat_template.render(conversation(), size % 2 == 0 ? tools() : nlohmann::ordered_json(), size % 3 == 0,
                         {{"enable_thinking", size % 5 == 0}});
  } catch (const fp4::Error&) {
    // Rejected templates are expected.
  }
  return 0;
}
