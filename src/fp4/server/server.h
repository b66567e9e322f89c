// `fp4serve serve`: the HTTP server. It listens at once (GET /health answers 503 "loading" while the
// model loads in the background, then 200 "healthy"), serves the simple API (/v1/generate), the OpenAI
// API (/v1/completions, /v1/chat/completions, /v1/models), the applications (/v1/apps/...) and /metrics,
// and on SIGTERM or SIGINT stops taking new requests, lets running ones finish for the grace period,
// cancels the rest and returns 0. docs/server.md documents every endpoint, field, limit and metric.
#pragma once

#include <cstdint>
#include <string>

#include "fp4/runtime/engine.h"

namespace fp4::server {

struct ServerOptions {
  std::string model_dir;
  std::string served_model_name;         // empty: the folder's name
  std::string host = "127.0.0.1";        // loopback only unless asked
  int port = 8000;
  std::string api_key;                   // empty: no authentication
  std::string cors_origins;              // comma list or "*"; empty: CORS off
  size_t max_body_bytes = 8u << 20;      // larger bodies get 413
  int64_t max_prompt_tokens = 0;         // 0: the model's context minus one token for the answer
  double request_timeout_s = 1800.0;     // per request, from submission; 0: none
  double grace_period_s = 30.0;          // on SIGTERM: how long running requests may finish
  int http_threads = 128;                // connections served at once (each stream holds one)
  int compute_threads = 0;               // model threads; 0: every core
  std::string device = "cpu";            // where the model runs: cpu or cuda (runtime/load_model.h)
  std::string reasoning_parser = "auto";  // auto (on when the chat template mentions <think>), deepseek_r1, none
  bool strict_fields = false;            // unknown request fields: 400 instead of ignored
  std::string version = "0";             // reported by GET /
  runtime::EngineConfig engine;
};

// Runs until SIGTERM/SIGINT; returns the process exit code (0 after a clean shutdown, 1 when the port
// cannot be bound or the model fails to load). Throws fp4::Error for invalid options.
int run_server(const ServerOptions& options);

}  // namespace fp4::server
