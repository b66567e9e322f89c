// The three generation endpoints' request bodies, parsed and type-checked (no model needed): field types,
// shapes and the features we do not implement are checked here; value ranges of the sampling fields are
// checked by sampling::resolve against the model's defaults, so every range error reads the same.
//
// Unknown fields: ignored by default, as vLLM does (clients send vendor extensions), and reported back in
// the X-Ignored-Fields response header; with strict parsing they are a 400. Known fields we do not
// implement (echo, suffix, logit_bias, response_format other than text, tool_choice "required", ...) are
// always a 400 naming the field, never silently dropped.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fp4/runtime/sampling_params.h"

namespace fp4::server {

struct ParsePolicy {
  bool strict_fields = false;  // unknown fields are a 400 instead of being ignored
};

// Fields every generation request shares.
struct CommonRequest {
  std::optional<std::string> model;
  runtime::sampling::SamplingRequest sampling;
  bool stream = false;
  bool include_usage = false;               // stream_options.include_usage
  bool continuous_usage_stats = false;      // stream_options.continuous_usage_stats: usage in every chunk
  std::vector<std::string> ignored_fields;  // unknown top-level keys (non-strict policy)
};

struct ChatRequest : CommonRequest {
  // Normalized messages: content is a string (text parts joined) or null; other keys are kept as sent.
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;                                              // null or a list
  nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // chat_template_kwargs
};

// One prompt of /v1/completions: text, or token ids sent by the client.
struct PromptInput {
  std::optional<std::string> text;
  std::vector<int32_t> ids;
};

struct CompletionRequest : CommonRequest {
  std::vector<PromptInput> prompts;  // a list of prompts gives prompts.size() * n choices
};

// POST /v1/generate: the simple API. Its defaults (max_tokens 512, temperature 0.6, top_p 0.9,
// repetition_penalty 1.1) are the API's, applied on top of the model's.
struct GenerateRequest : CommonRequest {
  std::string prompt;
};

inline constexpr size_t kMaxPromptsPerRequest = 64;  // /v1/completions prompt lists

ChatRequest parse_chat_request(const nlohmann::ordered_json& body, const ParsePolicy& policy);
CompletionRequest parse_completion_request(const nlohmann::ordered_json& body, const ParsePolicy& policy);
GenerateRequest parse_generate_request(const nlohmann::ordered_json& body, const ParsePolicy& policy);

}  // namespace fp4::server
