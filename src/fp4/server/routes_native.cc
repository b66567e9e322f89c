// The simple API: POST /v1/generate, GET /health, GET /.
//
// /v1/generate with "stream": true answers with server-sent events:
//   data: {"text": "<new text>"}                                    (as text is generated)
//   data: {"text": "", "finish_reason": "stop", "generation_time": 1.23, "prompt_tokens": 9,
//          "completion_tokens": 40}                                 (once, last)
//   data: [DONE]
#include <memory>

#include "fp4/server/json_body.h"
#include "fp4/server/response_builder.h"
#include "fp4/server/routes_common.h"
#include "fp4/server/sse.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Text and finish of the single completion of a /v1/generate request.
struct GenerateResult {
  std::string text;
  std::optional<runtime::FinishReason> finish;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool done = false;

  // Returns the text this update adds.
  std::string apply(const runtime::RequestUpdate& u) {
    std::string added;
    for (const runtime::CompletionDelta& d : u.deltas) {
      if (d.index != 0) continue;
      added += d.text;
      if (d.finish) finish = d.finish;
    }
    text += added;
    prompt_tokens = u.prompt_tokens;
    completion_tokens = u.completion_tokens;
    done = done || u.finished;
    return added;
  }
  std::string finish_reason() const { return finish ? finish_reason_text(*finish) : "stop"; }
};

class GenerateStream : public StreamWriter {
 public:
  explicit GenerateStream(std::chrono::steady_clock::time_point start) : start_(start) {}
  std::string open() override { return {}; }
  std::string on_update(const TaggedUpdate& u) override {
    const std::string added = result_.apply(u.update);
    if (added.empty()) return {};
    ordered_json event;
    event["text"] = added;
    return sse_event(event);
  }
  bool finished() const override { return result_.done; }
  std::string close() override {
    ordered_json last;
    last["text"] = "";
    last["finish_reason"] = result_.finish_reason();
    last["generation_time"] = seconds_since(start_);
    last["prompt_tokens"] = result_.prompt_tokens;
    last["completion_tokens"] = result_.completion_tokens;
    return sse_event(last) + sse_done();
  }

 private:
  std::chrono::steady_clock::time_point start_;
  GenerateResult result_;
};

void generate(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const GenerateRequest request = parse_generate_request(parse_json_body(req.body), state.parse_policy);
  note_ignored_fields(res, request.ignored_fields);
  check_model_name(state, request.model);
  runtime::ServedModel& model = ready_model(state);
  const std::vector<int32_t> prompt = model.encode_prompt(request.prompt);
  if (prompt.empty()) reject_field("prompt", "encodes to no tokens (the model adds no BOS token); send some text");
  check_prompt_length(state, model, prompt.size(), "prompt");
  const runtime::sampling::SamplingParams params = resolve_sampling(model, request.sampling);
  auto job = submit_prompts(state, model, {prompt}, params, SubmitOptions{});
  if (request.stream) {
    stream_job(state, res, job, std::make_unique<GenerateStream>(job->arrival));
    return;
  }
  GenerateResult result;
  const ClientConnection client(req);
  wait_for_job(*job, [&](const TaggedUpdate& u) { result.apply(u.update); }, &client);
  ordered_json body;
  body["generated_text"] = result.text;
  body["prompt"] = request.prompt;
  body["finish_reason"] = result.finish_reason();
  body["generation_time"] = seconds_since(job->arrival);
  body["prompt_tokens"] = result.prompt_tokens;
  body["completion_tokens"] = result.completion_tokens;
  send_json(res, 200, body);
}

}  // namespace

void register_native_routes(httplib::Server& http, ServerState& state) {
  http.Post("/v1/generate", guarded([&state](const httplib::Request& req, httplib::Response& res) {
              generate(state, req, res);
            }));
  http.Get("/health", guarded([&state](const httplib::Request&, httplib::Response& res) {
             const bool ready = state.model.load(std::memory_order_acquire) != nullptr;
             const bool stopping = state.stopping.load();
             ordered_json body;
             body["status"] = stopping ? "stopping" : ready ? "healthy" : "loading";
             body["model"] = state.model_name;
             body["ready"] = ready && !stopping;
             send_json(res, ready && !stopping ? 200 : 503, body);
           }));
  http.Get("/", guarded([&state](const httplib::Request&, httplib::Response& res) {
             ordered_json body;
             body["message"] = fmt::format("fp4serve is serving '{}': the simple API (POST /v1/generate) and "
                                           "the OpenAI API (/v1/completions, /v1/chat/completions, /v1/models)",
                                           state.model_name);
             body["version"] = state.options.version;
             body["docs"] = "docs/server.md";
             send_json(res, 200, body);
           }));
}

}  // namespace fp4::server
