// Plumbing shared by the generation routes: error responses, the loaded-model and model-name checks,
// submitting prompts to the engine, waiting for a non-streaming answer, and streaming SSE with cancel on
// disconnect. Internal to the server.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fp4/server/client_connection.h"
#include "fp4/server/http_error.h"
#include "fp4/server/server_state.h"
#include "fp4/server/update_channel.h"

namespace fp4::server {

using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Runs a handler and turns what it throws into an OpenAI error response: HttpError as is, QueueFull as
// 429 with Retry-After, other fp4::Error as 400 (a request the engine or tokenizer refused), anything
// else as 500.
httplib::Server::Handler guarded(RouteHandler handler);

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body);
void send_error(httplib::Response& res, const HttpError& error);

// The loaded model, or HttpError 503 while it loads or once shutdown began.
runtime::ServedModel& ready_model(ServerState& state);
// 404 model_not_found when the request names another model.
void check_model_name(const ServerState& state, const std::optional<std::string>& requested);
// 400 when a prompt is longer than the limit (--max-prompt-tokens, or the context minus one token).
void check_prompt_length(const ServerState& state, const runtime::ServedModel& model, size_t tokens,
                         const std::string& param);
// The request's sampling over the model's defaults; a range error becomes a 400 naming the field.
runtime::sampling::SamplingParams resolve_sampling(const runtime::ServedModel& model,
                                                   const runtime::sampling::SamplingRequest& request);
// Echoes ignored unknown fields to the client.
void note_ignored_fields(httplib::Response& res, const std::vector<std::string>& fields);

// Engine requests behind one HTTP request (one per prompt).
struct EngineJob {
  std::shared_ptr<UpdateChannel> channel = std::make_shared<UpdateChannel>();
  std::vector<uint64_t> ids;
  runtime::Engine* engine = nullptr;
  std::chrono::steady_clock::time_point arrival;
  void cancel_all() const;
};

struct SubmitOptions {
  bool split_reasoning = false;
  bool prompt_opens_reasoning = false;
};

// Submits every prompt; if one is refused, the ones already queued are cancelled and the error thrown.
std::shared_ptr<EngineJob> submit_prompts(ServerState& state, runtime::ServedModel& model,
                                          const std::vector<std::vector<int32_t>>& prompts,
                                          const runtime::sampling::SamplingParams& params, SubmitOptions options);

// Blocks until every request of the job has finished, passing each update to `on_update`. With a client
// connection, a client that has gone away gets the job cancelled (checked twice a second; the engine then
// ends every request with finish reason "cancelled" and frees its blocks).
void wait_for_job(EngineJob& job, const std::function<void(const TaggedUpdate&)>& on_update,
                  const ClientConnection* client = nullptr);

// What a stream writes: its opening text, the text for each update, and its closing text.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual std::string open() = 0;
  virtual std::string on_update(const TaggedUpdate& update) = 0;
  virtual bool finished() const = 0;
  virtual std::string close() = 0;  // after finished(): usage, [DONE]
};

// Answers with a text/event-stream body fed by the job. A failed write (the client went away) cancels
// the job's engine requests, so their KV blocks return to the pool.
void stream_job(ServerState& state, httplib::Response& res, std::shared_ptr<EngineJob> job,
                std::unique_ptr<StreamWriter> writer);

// A fresh id with the given prefix ("chatcmpl-", "cmpl-"): 24 random hex digits.
std::string random_id(const std::string& prefix);
int64_t unix_now();

}  // namespace fp4::server
