// Turns the engine's updates into OpenAI response objects: chat.completion / text_completion bodies,
// their streaming chunks, usage and logprobs, for one HTTP request (which may hold several engine
// requests: one per prompt of a /v1/completions prompt list; choice index = prompt index * n + i).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fp4/runtime/engine.h"
#include "fp4/server/update_channel.h"

namespace fp4::server {

enum class ApiKind { kChat, kCompletion };

// A token id → its text, for logprobs entries.
using TokenText = std::function<std::string(int32_t)>;

// OpenAI writes -9999 for a logprob of -inf (JSON has no infinity).
double json_logprob(float logprob);

// {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}, ...]}
nlohmann::ordered_json chat_logprobs(std::span<const runtime::TokenOutput> tokens, const TokenText& token_text);
// {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}; offsets start at
// *text_offset, which advances by each token's released text.
nlohmann::ordered_json completion_logprobs(std::span<const runtime::TokenOutput> tokens, const TokenText& token_text,
                                           size_t* text_offset);

std::string finish_reason_text(runtime::FinishReason reason);

class ResponseBuilder {
 public:
  struct Options {
    ApiKind kind = ApiKind::kChat;
    std::string id;       // "chatcmpl-..." / "cmpl-..."
    std::string model;
    int64_t created = 0;  // unix seconds
    int n = 1;
    size_t prompts = 1;
    bool logprobs = false;
    bool continuous_usage = false;  // usage in every stream chunk
  };
  ResponseBuilder(Options options, TokenText token_text);

  // Applies one update. With stream chunks wanted, returns the chunk payloads it produces (in order).
  std::vector<nlohmann::ordered_json> apply(const TaggedUpdate& update, bool want_chunks);

  bool all_finished() const;
  // Chat streams open each choice with a {"role": "assistant", "content": ""} delta.
  std::vector<nlohmann::ordered_json> role_chunks() const;
  // The last chunk of a stream with include_usage: no choices, the usage.
  nlohmann::ordered_json usage_chunk() const;
  nlohmann::ordered_json usage() const;
  // The non-streaming body.
  nlohmann::ordered_json final_response() const;

  int64_t prompt_tokens() const;
  int64_t completion_tokens() const;
  // Text and finish of choice i (the simple API reads these).
  const std::string& text(size_t choice) const { return choices_[choice].text; }
  std::optional<runtime::FinishReason> finish(size_t choice) const { return choices_[choice].finish; }

 private:
  struct Choice {
    std::string text;
    std::string reasoning;
    std::vector<runtime::TokenOutput> tokens;
    std::optional<runtime::FinishReason> finish;
    std::optional<std::string> stop_reason;
    size_t text_offset = 0;  // completions logprobs: characters released before the next chunk
  };
  struct PromptState {
    int64_t prompt_tokens = 0;
    int64_t cached_tokens = 0;
    int64_t completion_tokens = 0;
    bool finished = false;
  };
  nlohmann::ordered_json chunk_envelope() const;
  nlohmann::ordered_json choice_chunk(size_t index, const runtime::CompletionDelta& delta, Choice& choice) const;

  Options options_;
  TokenText token_text_;
  std::vector<Choice> choices_;      // [prompts * n]
  std::vector<PromptState> prompts_;  // [prompts]
};

}  // namespace fp4::server
