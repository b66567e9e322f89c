#include "fp4/server/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "fp4/apps/app_routes.h"
#include "fp4/runtime/load_model.h"
#include "fp4/server/json_body.h"
#include "fp4/server/routes_common.h"
#include "fp4/server/server_state.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

// Paths and the methods they answer, for 405 (known path, wrong method) versus 404.
struct KnownPath {
  const char* path;
  const char* methods;
};
constexpr KnownPath kKnownPaths[] = {
    {"/", "GET"},           {"/health", "GET"},          {"/metrics", "GET"},
    {"/v1/models", "GET"},  {"/v1/generate", "POST"},    {"/v1/completions", "POST"},
    {"/v1/chat/completions", "POST"},
};

std::string folder_name(const std::string& dir) {
  std::filesystem::path p(dir);
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().string();
}

void validate_options(const ServerOptions& o) {
  FP4_CHECK(o.port >= 0 && o.port <= 65535, "--port: {} is not a TCP port (0 to 65535)", o.port);
  FP4_CHECK(o.max_body_bytes >= 1024, "--max-body-bytes: {} is too small (at least 1024)", o.max_body_bytes);
  FP4_CHECK(o.max_prompt_tokens >= 0, "--max-prompt-tokens: {} must be >= 0 (0: the model's context)",
            o.max_prompt_tokens);
  FP4_CHECK(o.request_timeout_s >= 0, "--request-timeout: {} must be >= 0 seconds (0: none)", o.request_timeout_s);
  FP4_CHECK(o.grace_period_s >= 0, "--grace-period: {} must be >= 0 seconds", o.grace_period_s);
  FP4_CHECK(o.http_threads >= 4 && o.http_threads <= 4096, "--http-threads: {} is outside [4, 4096]", o.http_threads);
  FP4_CHECK(o.reasoning_parser == "auto" || o.reasoning_parser == "deepseek_r1" || o.reasoning_parser == "none",
            "--reasoning-parser: '{}' is not one of auto, deepseek_r1, none", o.reasoning_parser);
  FP4_CHECK(o.engine.max_waiting >= 0, "--max-queue: {} must be >= 0", o.engine.max_waiting);
}

void install_access_policy(httplib::Server& http, ServerState& state) {
  http.set_pre_routing_handler([&state](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    if (auto allow = state.cors.allow_origin_header(origin)) {
      res.set_header("Access-Control-Allow-Origin", *allow);
      if (*allow != "*") res.set_header("Vary", "Origin");
    }
    if (req.method == "OPTIONS") {
      if (!origin.empty() && !state.cors.allows(origin)) {
        send_error(res, HttpError(403, state.cors.enabled()
                                           ? fmt::format("origin '{}' is not allowed (--cors-origin)", origin)
                                           : "CORS is off on this server (start it with --cors-origin)"));
        return httplib::Server::HandlerResponse::Handled;
      }
      res.status = 204;
      res.set_header("Allow", std::string(CorsPolicy::kAllowMethods));
      if (!origin.empty()) {
        res.set_header("Access-Control-Allow-Methods", std::string(CorsPolicy::kAllowMethods));
        res.set_header("Access-Control-Allow-Headers", std::string(CorsPolicy::kAllowHeaders));
        res.set_header("Access-Control-Max-Age", std::to_string(CorsPolicy::kMaxAgeSeconds));
      }
      return httplib::Server::HandlerResponse::Handled;
    }
    const std::string& key = state.options.api_key;
    if (!key.empty() && !path_exempt_from_auth(req.path)) {
      const std::string authorization = req.get_header_value("Authorization");  // token views into it
      const auto token = bearer_token(authorization);
      if (!token || !constant_time_equals(key, *token)) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, HttpError(401,
                                  token ? "invalid API key" : "missing API key: send \"Authorization: Bearer KEY\"",
                                  std::nullopt, "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Errors the HTTP library raises itself (no route, body too large, malformed request line) get the
  // same OpenAI error body as ours.
  http.set_error_handler(httplib::Server::HandlerWithResponse([&state](const httplib::Request& req,
                                                                      httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    int status = res.status;
    std::string message;
    std::optional<std::string> code;
    if (status == 404) {
      for (const KnownPath& k : kKnownPaths) {
        if (req.path == k.path) {
          status = 405;
          res.set_header("Allow", k.methods);
          message = fmt::format("{} does not answer {}; use {}", req.path, req.method, k.methods);
        }
      }
      if (message.empty()) message = fmt::format("no route for {} {}", req.method, req.path);
    } else if (status == 413) {
      message = fmt::format("request body is larger than the limit of {} bytes (--max-body-bytes)",
                            state.options.max_body_bytes);
      code = "request_too_large";
    } else {
      message = status_text(status);
    }
    send_error(res, HttpError(status, message, std::nullopt, code));
    return httplib::Server::HandlerResponse::Handled;
  }));

  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, HttpError(500, "internal error: " + what));
  });

  http.set_logger([&state](const httplib::Request&, const httplib::Response& res) {
    state.metrics.http_response(res.status);
  });
}

void register_service_routes(httplib::Server& http, ServerState& state) {
  http.Get("/metrics", guarded([&state](const httplib::Request&, httplib::Response& res) {
             const runtime::ServedModel* model = state.model.load(std::memory_order_acquire);
             runtime::EngineStats stats;
             if (model) stats = model->engine->stats();
             res.status = 200;
             res.set_content(state.metrics.render(state.model_name, model ? &stats : nullptr),
                             "text/plain; version=0.0.4; charset=utf-8");
           }));
  // The applications (math, code, tutor) run through the same engine as the OpenAI API.
  http.Post(R"(/v1/apps/.+)", guarded([&state](const httplib::Request& req, httplib::Response& res) {
              const ordered_json body = parse_json_body(req.body);
              if (auto it = body.find("model"); it != body.end() && it->is_string()) {
                check_model_name(state, it->get<std::string>());
              }
              ready_model(state);
              std::optional<nlohmann::json> answer;
              try {
                answer = apps::handle_app_request(req.path, nlohmann::json(body), *state.generator);
              } catch (const runtime::QueueFull&) {
                throw;
              } catch (const HttpError&) {
                throw;
              } catch (const Error& e) {
                throw HttpError(400, e.what(), field_named_in(e.what()));
              }
              if (!answer) throw HttpError(404, fmt::format("no application at {}", req.path));
              res.status = 200;
              res.set_content(answer->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                              "application/json");
            }));
}

// Blocks SIGINT/SIGTERM in every thread started after this (they inherit the mask), so that only the
// waiting thread below receives them, outside any signal-handler restrictions.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the process
  return set;
}

}  // namespace

int run_server(const ServerOptions& options) {
  validate_options(options);
  ServerState state;
  state.options = options;
  state.model_name = options.served_model_name.empty() ? folder_name(options.model_dir) : options.served_model_name;
  state.cors = CorsPolicy::parse(options.cors_origins);
  state.parse_policy.strict_fields = options.strict_fields;
  state.started_unix = unix_now();

  const sigset_t stop_signals = block_stop_signals();

  httplib::Server http;
  const int http_threads = options.http_threads;
  http.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_keep_alive_timeout(5);
  http.set_keep_alive_max_count(1000);
  install_access_policy(http, state);
  register_native_routes(http, state);
  register_openai_routes(http, state);
  register_service_routes(http, state);

  int port = options.port;
  const bool bound = port == 0 ? (port = http.bind_to_any_port(options.host)) > 0 : http.bind_to_port(options.host, port);
  if (!bound) {
    std::fprintf(stderr, "serve: cannot listen on %s:%d (address in use, or not an address of this machine)\n",
                 options.host.c_str(), options.port);
    return 1;
  }
  std::fprintf(stderr, "serve: listening on http://%s:%d, model '%s' loading from %s\n", options.host.c_str(), port,
               state.model_name.c_str(), options.model_dir.c_str());

  // Load in the background so /health answers (503 "loading") from the start.
  std::unique_ptr<runtime::ServedModel> served;
  std::atomic<bool> load_failed{false};
  std::thread loader([&] {
    try {
      served = runtime::ServedModel::load(options.model_dir, options.engine, options.compute_threads,
                                          state.model_name, runtime::parse_device(options.device));
      const bool template_thinks =
          served->chat_template && served->chat_template->source().find("<think>") != std::string::npos;
      state.split_reasoning = options.reasoning_parser == "deepseek_r1" ||
                              (options.reasoning_parser == "auto" && template_thinks);
      state.generator = std::make_unique<apps::LocalGenerator>(*served);
      state.model.store(served.get(), std::memory_order_release);
      std::fprintf(stderr, "serve: model '%s' ready (context %lld tokens, reasoning parser %s)\n",
                   state.model_name.c_str(), static_cast<long long>(served->engine->max_model_len()),
                   state.split_reasoning ? "deepseek_r1" : "off");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: cannot load the model: %s\n", e.what());
      load_failed = true;
      kill(getpid(), SIGTERM);  // wakes the signal thread, which stops the server
    }
  });

  // SIGTERM/SIGINT: refuse new work (503), let running requests finish for the grace period (the engine
  // cancels what is left), let the streams write their last events, then close the listener.
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    state.stopping = true;
    if (!load_failed) std::fprintf(stderr, "serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    loader.join();
    if (runtime::ServedModel* m = state.model.load()) {
      m->engine->shutdown(std::chrono::milliseconds(static_cast<int64_t>(options.grace_period_s * 1000.0)));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (state.active_streams.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // stop() is a no-op until the listener runs; a load that fails at once may get here first.
    for (int i = 0; i < 500 && !http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    http.stop();
  });

  http.listen_after_bind();
  stopper.join();
  std::fprintf(stderr, "serve: stopped\n");
  return load_failed ? 1 : 0;
}

}  // namespace fp4::server
