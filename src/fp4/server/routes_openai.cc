// The OpenAI API: POST /v1/chat/completions, POST /v1/completions, GET /v1/models[/ID].
#include <memory>

#include "fp4/runtime/reasoning_parser.h"
#include "fp4/server/json_body.h"
#include "fp4/server/response_builder.h"
#include "fp4/server/routes_common.h"
#include "fp4/server/sse.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

TokenText token_text_of(const runtime::ServedModel& model) {
  const tokenizer::Tokenizer* tok = model.tokenizer.get();
  return [tok](int32_t id) {
    const uint32_t ids[1] = {static_cast<uint32_t>(id)};
    return tok->decode(ids);
  };
}

// Streams OpenAI chunks: role deltas first (chat), one chunk per update that carries something, then the
// usage chunk (stream_options.include_usage) and [DONE].
class OpenAiStream : public StreamWriter {
 public:
  OpenAiStream(ResponseBuilder builder, bool chat, bool include_usage)
      : builder_(std::move(builder)), chat_(chat), include_usage_(include_usage) {}

  std::string open() override {
    std::string out;
    if (chat_) {
      for (const ordered_json& chunk : builder_.role_chunks()) out += sse_event(chunk);
    }
    return out;
  }
  std::string on_update(const TaggedUpdate& update) override {
    std::string out;
    for (const ordered_json& chunk : builder_.apply(update, /*want_chunks=*/true)) out += sse_event(chunk);
    return out;
  }
  bool finished() const override { return builder_.all_finished(); }
  std::string close() override {
    std::string out;
    if (include_usage_) out += sse_event(builder_.usage_chunk());
    out += sse_done();
    return out;
  }

 private:
  ResponseBuilder builder_;
  bool chat_;
  bool include_usage_;
};

void answer(ServerState& state, const httplib::Request& req, httplib::Response& res, std::shared_ptr<EngineJob> job,
            ResponseBuilder builder, const CommonRequest& request, bool chat) {
  if (request.stream) {
    stream_job(state, res, std::move(job),
               std::make_unique<OpenAiStream>(std::move(builder), chat, request.include_usage));
    return;
  }
  const ClientConnection client(req);
  wait_for_job(*job, [&](const TaggedUpdate& u) { builder.apply(u, /*want_chunks=*/false); }, &client);
  send_json(res, 200, builder.final_response());
}

void chat_completions(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const ChatRequest request = parse_chat_request(parse_json_body(req.body), state.parse_policy);
  note_ignored_fields(res, request.ignored_fields);
  check_model_name(state, request.model);
  runtime::ServedModel& model = ready_model(state);
  std::string rendered;
  std::vector<int32_t> prompt;
  try {
    prompt = model.encode_chat(request.messages, request.tools, request.template_kwargs, &rendered);
  } catch (const Error& e) {
    throw HttpError(400, e.what(), "messages");
  }
  check_prompt_length(state, model, prompt.size(), "messages");
  const runtime::sampling::SamplingParams params = resolve_sampling(model, request.sampling);
  SubmitOptions submit;
  submit.split_reasoning = state.split_reasoning;
  submit.prompt_opens_reasoning = state.split_reasoning && runtime::ReasoningParser::prompt_opens_reasoning(rendered);
  auto job = submit_prompts(state, model, {prompt}, params, submit);

  ResponseBuilder::Options o;
  o.kind = ApiKind::kChat;
  o.id = random_id("chatcmpl-");
  o.model = state.model_name;
  o.created = unix_now();
  o.n = params.n;
  o.prompts = 1;
  o.logprobs = params.logprobs;
  o.continuous_usage = request.continuous_usage_stats;
  answer(state, req, res, std::move(job), ResponseBuilder(o, token_text_of(model)), request, /*chat=*/true);
}

void completions(ServerState& state, const httplib::Request& req, httplib::Response& res) {
  const CompletionRequest request = parse_completion_request(parse_json_body(req.body), state.parse_policy);
  note_ignored_fields(res, request.ignored_fields);
  check_model_name(state, request.model);
  runtime::ServedModel& model = ready_model(state);
  std::vector<std::vector<int32_t>> prompts;
  const int64_t vocab = model.model->vocab_size();
  for (size_t i = 0; i < request.prompts.size(); ++i) {
    const PromptInput& p = request.prompts[i];
    const std::string param = request.prompts.size() == 1 ? "prompt" : fmt::format("prompt[{}]", i);
    std::vector<int32_t> ids = p.text ? model.encode_prompt(*p.text) : p.ids;
    if (ids.empty()) reject_field(param, "encodes to no tokens (the model adds no BOS token); send some text");
    for (int32_t id : ids) {
      if (id >= vocab) reject_field(param, fmt::format("token id {} is outside the vocabulary [0, {})", id, vocab));
    }
    check_prompt_length(state, model, ids.size(), param);
    prompts.push_back(std::move(ids));
  }
  const runtime::sampling::SamplingParams params = resolve_sampling(model, request.sampling);
  auto job = submit_prompts(state, model, prompts, params, SubmitOptions{});

  ResponseBuilder::Options o;
  o.kind = ApiKind::kCompletion;
  o.id = random_id("cmpl-");
  o.model = state.model_name;
  o.created = unix_now();
  o.n = params.n;
  o.prompts = prompts.size();
  o.logprobs = params.logprobs;
  o.continuous_usage = request.continuous_usage_stats;
  answer(state, req, res, std::move(job), ResponseBuilder(o, token_text_of(model)), request, /*chat=*/false);
}

ordered_json model_card(const ServerState& state) {
  ordered_json card;
  card["id"] = state.model_name;
  card["object"] = "model";
  card["created"] = state.started_unix;
  card["owned_by"] = "fp4serve";
  const runtime::ServedModel* model = state.model.load(std::memory_order_acquire);
  card["max_model_len"] = model ? ordered_json(model->engine->max_model_len()) : ordered_json(nullptr);
  return card;
}

}  // namespace

void register_openai_routes(httplib::Server& http, ServerState& state) {
  http.Post("/v1/chat/completions", guarded([&state](const httplib::Request& req, httplib::Response& res) {
              chat_completions(state, req, res);
            }));
  http.Post("/v1/completions", guarded([&state](const httplib::Request& req, httplib::Response& res) {
              completions(state, req, res);
            }));
  http.Get("/v1/models", guarded([&state](const httplib::Request&, httplib::Response& res) {
             ordered_json body;
             body["object"] = "list";
             body["data"] = ordered_json::array({model_card(state)});
             send_json(res, 200, body);
           }));
  http.Get("/v1/models/(.+)", guarded([&state](const httplib::Request& req, httplib::Response& res) {
             check_model_name(state, std::string(req.matches[1]));
             send_json(res, 200, model_card(state));
           }));
}

}  // namespace fp4::server
