// TextGenerator over any OpenAI-compatible server (fp4serve serve, vLLM, SGLang, TensorRT-LLM):
// chat messages go to POST /v1/chat/completions, a raw prompt to POST /v1/completions, non-streaming.
//
// Sampling fields are sent by their OpenAI / vLLM names (temperature, top_p, top_k, min_p,
// repetition_penalty, presence_penalty, frequency_penalty, seed, max_tokens, stop, stop_token_ids,
// include_stop_str_in_output, ignore_eos, n) and only when the request sets them, so the server's own
// defaults (its generation_config.json) apply to the rest exactly as they do in process. fp4serve's
// max_reasoning_tokens is sent under that name; template_kwargs become vLLM's chat_template_kwargs.
// The reasoning comes back in message.reasoning_content (or vLLM's newer message.reasoning).
//
// Thread-safe: every call opens its own connection, so eval can run requests concurrently.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "fp4/apps/text_generator.h"

namespace fp4::apps {

struct RemoteTimeouts {
  std::chrono::seconds connect{10};
  // A reasoning model may think for minutes before a non-streamed response is complete.
  std::chrono::seconds read{900};
  std::chrono::seconds write{60};
};

// "http://host:port/prefix" split into its parts. Throws fp4::Error for a URL that is not http(s)://host.
struct ServerUrl {
  std::string scheme;       // "http" or "https"
  std::string host;         // without IPv6 brackets
  int port = 0;             // explicit, or 80 / 443
  std::string base_path;    // "" or "/prefix" (a trailing "/v1" is dropped: both spellings name the server)
  static ServerUrl parse(std::string_view url);
  std::string origin() const;  // "scheme://host:port" (brackets around IPv6 hosts)
};

class RemoteGenerator : public TextGenerator {
 public:
  // api_key: sent as "Authorization: Bearer KEY" when not empty. model: the "model" field of every request;
  // empty: the first id of GET /v1/models, asked once on first use.
  RemoteGenerator(std::string url, std::string api_key = {}, std::string model = {}, RemoteTimeouts timeouts = {});

  // Throws fp4::Error with the server's own message for a rejected request ("…: HTTP 400: …"), and for
  // an unreachable server or a response that is not an OpenAI completion.
  GenerationResponse generate(const GenerationRequest& request) override;
  std::string model_name() const override;

  const ServerUrl& url() const { return url_; }

  // The JSON body generate() sends (exposed for tests and for logging).
  static nlohmann::json request_body(const GenerationRequest& request, const std::string& model);
  // Reads an OpenAI chat or text completion response. `origin` names the server in errors.
  static GenerationResponse parse_response(const nlohmann::json& response, bool chat, std::string_view origin);
  // The message of an error response body (OpenAI {"error": {"message"}}, {"message"}, FastAPI {"detail"}),
  // else the body itself, cut to one line of at most 300 bytes.
  static std::string error_message(std::string_view body);

 private:
  nlohmann::json post(const std::string& path, const nlohmann::json& body) const;
  nlohmann::json get(const std::string& path) const;
  std::string resolved_model() const;

  ServerUrl url_;
  std::string api_key_;
  RemoteTimeouts timeouts_;
  mutable std::mutex model_mutex_;
  mutable std::string model_;
};

}  // namespace fp4::apps
