#include "fp4/server/routes_common.h"

#include <fmt/ranges.h>

#include <random>

#include "fp4/server/sse.h"

namespace fp4::server {

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body) {
  res.status = status;
  res.set_content(json_text(body), "application/json");
}

void send_error(httplib::Response& res, const HttpError& error) {
  if (error.retry_after_seconds() > 0) res.set_header("Retry-After", std::to_string(error.retry_after_seconds()));
  send_json(res, error.status(), error_body(error));
}

httplib::Server::Handler guarded(RouteHandler handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const HttpError& e) {
      send_error(res, e);
    } catch (const runtime::QueueFull& e) {
      send_error(res, HttpError(429, e.what(), std::nullopt, "rate_limit_exceeded").with_retry_after(1));
    } catch (const Error& e) {
      send_error(res, HttpError(400, e.what(), field_named_in(e.what())));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: %s %s failed: %s\n", req.method.c_str(), req.path.c_str(), e.what());
      send_error(res, HttpError(500, fmt::format("internal error: {}", e.what())));
    }
  };
}

runtime::ServedModel& ready_model(ServerState& state) {
  if (state.stopping.load()) {
    throw HttpError(503, "the server is shutting down", std::nullopt, "shutting_down");
  }
  runtime::ServedModel* model = state.model.load(std::memory_order_acquire);
  if (!model) {
    throw HttpError(503, fmt::format("model '{}' is still loading; retry when GET /health says healthy",
                                     state.model_name),
                    std::nullopt, "model_loading")
        .with_retry_after(1);
  }
  return *model;
}

void check_model_name(const ServerState& state, const std::optional<std::string>& requested) {
  if (requested && *requested != state.model_name) {
    throw HttpError(404, fmt::format("the model '{}' does not exist; this server serves '{}'", *requested,
                                     state.model_name),
                    "model", "model_not_found");
  }
}

void check_prompt_length(const ServerState& state, const runtime::ServedModel& model, size_t tokens,
                         const std::string& param) {
  const int64_t context = model.engine->max_model_len();
  const int64_t limit = state.options.max_prompt_tokens > 0 ? std::min(state.options.max_prompt_tokens, context - 1)
                                                            : context - 1;
  if (static_cast<int64_t>(tokens) > limit) {
    const std::string why = state.options.max_prompt_tokens > 0 && state.options.max_prompt_tokens <= context - 1
                                ? "--max-prompt-tokens"
                                : fmt::format("the context of {} tokens minus one for the answer", context);
    throw HttpError(400, fmt::format("the prompt has {} tokens, more than the limit of {} ({})", tokens, limit, why),
                    param, "context_length_exceeded");
  }
}

runtime::sampling::SamplingParams resolve_sampling(const runtime::ServedModel& model,
                                                   const runtime::sampling::SamplingRequest& request) {
  try {
    return runtime::sampling::resolve(model.defaults, request, model.model->vocab_size());
  } catch (const HttpError&) {
    throw;
  } catch (const Error& e) {
    throw HttpError(400, e.what(), field_named_in(e.what()));
  }
}

void note_ignored_fields(httplib::Response& res, const std::vector<std::string>& fields) {
  if (fields.empty()) return;
  std::string list;
  for (const std::string& f : fields) {
    // Header values must stay printable ASCII; other names are summarized.
    bool printable = true;
    for (unsigned char c : f) printable = printable && c >= 0x21 && c < 0x7f && c != ',';
    if (!list.empty()) list += ",";
    list += printable && f.size() <= 64 ? f : "?";
    if (list.size() > 512) break;
  }
  res.set_header("X-Ignored-Fields", list);
}

void EngineJob::cancel_all() const {
  for (uint64_t id : ids) engine->cancel(id);
}

std::shared_ptr<EngineJob> submit_prompts(ServerState& state, runtime::ServedModel& model,
                                          const std::vector<std::vector<int32_t>>& prompts,
                                          const runtime::sampling::SamplingParams& params, SubmitOptions options) {
  auto job = std::make_shared<EngineJob>();
  job->engine = model.engine.get();
  job->arrival = std::chrono::steady_clock::now();
  try {
    for (size_t i = 0; i < prompts.size(); ++i) {
      runtime::EngineRequest request;
      request.prompt = prompts[i];
      request.params = params;
      request.split_reasoning = options.split_reasoning;
      request.prompt_opens_reasoning = options.prompt_opens_reasoning;
      if (state.options.request_timeout_s > 0) {
        request.timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(state.options.request_timeout_s));
      }
      auto timer = std::make_shared<RequestTimer>(state.metrics, job->arrival);
      job->ids.push_back(model.engine->submit(std::move(request), make_sink(job->channel, i, timer)));
    }
  } catch (...) {
    job->cancel_all();
    throw;
  }
  return job;
}

void wait_for_job(EngineJob& job, const std::function<void(const TaggedUpdate&)>& on_update,
                  const ClientConnection* client) {
  std::vector<bool> finished(job.ids.size(), false);
  size_t remaining = job.ids.size();
  bool cancelled = false;
  auto next_check = std::chrono::steady_clock::now();
  // The engine always ends a request (finish, timeout, cancel or shutdown) with a final update.
  while (remaining > 0) {
    for (const TaggedUpdate& u : job.channel->wait(std::chrono::milliseconds(500))) {
      on_update(u);
      if (u.update.finished && !finished[u.prompt_index]) {
        finished[u.prompt_index] = true;
        --remaining;
      }
    }
    // Updates can arrive every few milliseconds: look at the socket at most four times a second.
    if (remaining > 0 && !cancelled && client != nullptr && std::chrono::steady_clock::now() >= next_check) {
      next_check = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
      if (client->closed()) {
        job.cancel_all();
        cancelled = true;
      }
    }
  }
}

namespace {

struct StreamState {
  ServerState* server = nullptr;
  std::shared_ptr<EngineJob> job;
  std::unique_ptr<StreamWriter> writer;
  bool opened = false;
  bool closed = false;
};

}  // namespace

void stream_job(ServerState& state, httplib::Response& res, std::shared_ptr<EngineJob> job,
                std::unique_ptr<StreamWriter> writer) {
  auto st = std::make_shared<StreamState>();
  st->server = &state;
  st->job = std::move(job);
  st->writer = std::move(writer);
  state.active_streams.fetch_add(1);
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // ask reverse proxies not to buffer the stream
  res.set_chunked_content_provider(
      "text/event-stream",
      [st](size_t /*offset*/, httplib::DataSink& sink) {
        // Runs on the HTTP worker; nothing may escape it (the library would end the process).
        try {
          std::string out;
          if (!st->opened) {
            st->opened = true;
            out = st->writer->open();
          }
          const std::vector<TaggedUpdate> updates = st->job->channel->wait(kStreamHeartbeat);
          for (const TaggedUpdate& u : updates) out += st->writer->on_update(u);
          const bool finished = st->writer->finished();
          if (finished) out += st->writer->close();
          // Nothing arrived within the heartbeat: a comment, so a client that left is noticed (the write
          // fails). Updates that carried no text (the admission update) need no write.
          if (out.empty() && updates.empty()) out = sse_comment("keep-alive");
          if (out.empty()) return true;
          if (!sink.write(out.data(), out.size())) return false;  // the client went away
          if (finished) {
            st->closed = true;
            sink.done();
          }
          return true;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "serve: stream failed, cancelling its request: %s\n", e.what());
          return false;
        }
      },
      [st](bool /*success*/) {
        if (!st->closed) st->job->cancel_all();  // disconnect or write error: free the KV blocks now
        st->server->active_streams.fetch_sub(1);
      });
}

std::string random_id(const std::string& prefix) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return prefix + fmt::format("{:016x}{:08x}", rng(), static_cast<uint32_t>(rng()));
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace fp4::server
