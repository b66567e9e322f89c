// What the route handlers share: options, the model once it is loaded, metrics and policies. Internal to
// the server.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "fp4/apps/local_generator.h"
#include "fp4/runtime/served_model.h"
#include "fp4/server/http_policy.h"
#include "fp4/server/metrics.h"
#include "fp4/server/request_parsing.h"
#include "fp4/server/server.h"

namespace fp4::server {

struct ServerState {
  ServerOptions options;
  std::string model_name;  // known before the model loads (reported by /health and /v1/models)
  CorsPolicy cors;
  ParsePolicy parse_policy;
  ServerMetrics metrics;
  int64_t started_unix = 0;

  // Published once loading succeeded (release/acquire); the fields below it are set before.
  std::atomic<runtime::ServedModel*> model{nullptr};
  bool split_reasoning = false;  // chat responses get reasoning_content
  std::unique_ptr<apps::LocalGenerator> generator;

  std::atomic<bool> stopping{false};    // SIGTERM received: new generation requests get 503
  std::atomic<int> active_streams{0};   // streams still writing (shutdown waits for them)
};

// How often an idle stream writes an SSE comment, which is also how soon a client that went away is
// noticed (its socket write fails) and its request cancelled.
inline constexpr std::chrono::milliseconds kStreamHeartbeat{1000};

void register_native_routes(httplib::Server& http, ServerState& state);
void register_openai_routes(httplib::Server& http, ServerState& state);

}  // namespace fp4::server
