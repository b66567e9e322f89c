// `fp4serve serve -m DIR`: the HTTP server (simple API, OpenAI API, applications, metrics). Options and
// defaults: docs/server.md.
#include <memory>

#include "cli/command.h"
#include "fp4/server/server.h"

namespace fp4::cli {
namespace {

const Command kServe{
    "serve", "Serve a model over HTTP: the simple API and the OpenAI API (docs/server.md)",
    [](CLI::App& sub) -> Runner {
      auto o = std::make_shared<server::ServerOptions>();
      o->version = FP4_VERSION;
      runtime::EngineConfig& e = o->engine;
      sub.add_option("-m,--model", o->model_dir, "Hugging Face model folder")->required()->check(CLI::ExistingDirectory);
      sub.add_option("--host", o->host, "Address to bind (default 127.0.0.1: this machine only)");
      sub.add_option("--port", o->port, "TCP port (default 8000; 0 picks a free one)");
      sub.add_option("--api-key", o->api_key, "Require \"Authorization: Bearer KEY\" (except / and /health)");
      sub.add_option("--cors-origin", o->cors_origins, "Comma-separated origins allowed by CORS, or * (default: off)");
      sub.add_option("--served-model-name", o->served_model_name, "Model name in the API (default: the folder name)");
      sub.add_option("--max-num-seqs", e.max_num_seqs, "Sequences running at once (default 64)");
      sub.add_option("--max-num-batched-tokens", e.max_num_batched_tokens, "Token budget of one step (default 512)");
      sub.add_option("--max-model-len", e.max_model_len, "Prompt plus output limit (default: the model's)");
      sub.add_option("--kv-cache-tokens", e.kv_cache_tokens, "KV cache capacity in tokens (default: from the above)");
      sub.add_option("--block-size", e.block_size, "Tokens per KV block (default 16)");
      sub.add_flag("!--no-prefix-caching", e.prefix_caching, "Do not share prompt blocks between requests");
      sub.add_option("--max-queue", e.max_waiting, "Waiting requests beyond which new ones get 429 (default 256)");
      sub.add_option("--max-body-bytes", o->max_body_bytes, "Request body limit, 413 beyond (default 8 MiB)");
      sub.add_option("--max-prompt-tokens", o->max_prompt_tokens, "Prompt token limit, 400 beyond (default: context - 1)");
      sub.add_option("--request-timeout", o->request_timeout_s, "Seconds a request may run (default 1800; 0: none)");
      sub.add_option("--grace-period", o->grace_period_s, "Seconds running requests may finish after SIGTERM (default 30)");
      sub.add_option("--threads", o->compute_threads, "Model threads (default 0: one per core)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--http-threads", o->http_threads, "Connections served at once (default 128)");
      sub.add_option("--device", o->device, "Where the model runs: cpu (default) or cuda")
          ->check(CLI::IsMember({"cpu", "cuda"}));
      sub.add_option("--reasoning-parser", o->reasoning_parser,
                     "Split <think> into reasoning_content: auto (when the chat template uses <think>), deepseek_r1, none")
          ->check(CLI::IsMember({"auto", "deepseek_r1", "none"}));
      sub.add_flag("--strict-fields", o->strict_fields, "Answer unknown request fields with 400 instead of ignoring them");
      return [o] { return server::run_server(*o); };
    }};

}  // namespace
}  // namespace fp4::cli
