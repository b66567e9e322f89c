// The one interface the applications (math, code, tutor) and the evaluation harness generate through:
// chat messages or a raw prompt in, completions out. Two implementations: LocalGenerator runs the
// in-process engine (the model folder's chat template and tokenizer), RemoteGenerator talks to any
// OpenAI-compatible server (`--url`: fp4serve serve, vLLM, TensorRT-LLM). Both give the same answers for
// the same model at temperature 0, which is what `fp4serve eval` against a server checks.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fp4/runtime/engine.h"
#include "fp4/runtime/sampling_params.h"

namespace fp4::apps {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct GenerationRequest {
  // Exactly one of the two: messages go through the chat template (/v1/chat/completions); a raw prompt
  // is used as is (/v1/completions).
  std::vector<ChatMessage> messages;
  std::optional<std::string> prompt;
  runtime::sampling::SamplingRequest sampling;  // unset fields: the model's defaults
  // Extra chat template variables, e.g. {"enable_thinking": false}.
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();
};

struct GeneratedText {
  std::string content;    // the answer (after </think> when the model reasons)
  std::string reasoning;  // the <think> block's text, empty when there is none
  std::string finish_reason;  // "stop", "length", "cancelled"
};

struct GenerationResponse {
  std::vector<GeneratedText> choices;  // [n]
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

class TextGenerator {
 public:
  virtual ~TextGenerator() = default;
  // Blocks until every choice is complete. Thread-safe: eval runs requests concurrently.
  // Throws fp4::Error for a rejected request (the server's message) or an unreachable server.
  virtual GenerationResponse generate(const GenerationRequest& request) = 0;
  // The model's name as reported by /v1/models (the folder name in process).
  virtual std::string model_name() const = 0;
};

}  // namespace fp4::apps
