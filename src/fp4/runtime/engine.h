// The serving engine: requests enter a queue; one engine thread runs steps (admit waiting requests,
// schedule prefill chunks and decode rows together under a token budget, one batched forward, sample,
// detokenize, stream out). KV memory lives in fixed-size blocks handed out by a block manager; full
// prompt blocks are shared between requests by content hash (prefix caching); when blocks run out the
// newest running request is preempted and later recomputed; a cancelled request frees its blocks at the
// next step boundary.
//
// Text handling lives here, not in the server: each completion has an incremental detokenizer, a stop
// matcher (stop strings across token boundaries, stop ids, EOS) and, when asked, a reasoning parser that
// splits <think>…</think> into reasoning text and enforces max_reasoning_tokens.
//
// Threading: submit/cancel/stats may be called from any thread. Sinks are called on the engine thread,
// in order, and must return quickly (copy the update into a queue; never block on a socket).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/model/model.h"
#include "fp4/runtime/sampler.h"
#include "fp4/runtime/sampling_params.h"

namespace fp4::tokenizer {
class Tokenizer;
}

namespace fp4::runtime {

struct EngineConfig {
  int64_t max_num_seqs = 64;              // running sequences (completions) per step
  int64_t max_num_batched_tokens = 512;   // token budget of one step: prefill chunk tokens + decode rows
  int64_t block_size = 16;                // tokens per KV block
  int64_t kv_cache_tokens = 0;            // KV capacity in tokens; 0: max_model_len · min(max_num_seqs, 8),
                                          // capped to half the available memory (docs/engine.md)
  int64_t max_model_len = 0;              // prompt + output limit; 0: the model's max_position_embeddings
  int64_t max_waiting = 256;              // queued requests beyond which submit() throws QueueFull
  bool prefix_caching = true;             // share full prompt blocks by hash
  model::ForwardOptions forward;          // MLA form, NVFP4 activation precision (dump hooks not allowed)
};

enum class FinishReason : uint8_t {
  kStop,       // EOS, a stop token id or a stop string
  kLength,     // max_tokens or the context length
  kCancelled,  // cancel(), a timeout or shutdown
};
// "stop", "length", "cancelled" (the OpenAI / vLLM names; "cancelled" is ours: vLLM reports "abort").
std::string_view finish_reason_name(FinishReason reason);

struct EngineRequest {
  std::vector<int32_t> prompt;       // token ids, non-empty
  sampling::SamplingParams params;   // resolved and validated (sampling::resolve); seed drawn when unset
  // Reasoning split: when true, text inside <think>…</think> goes to CompletionDelta::reasoning.
  // prompt_opens_reasoning: the rendered prompt ends inside an open <think> block (R1-0528's template).
  bool split_reasoning = false;
  bool prompt_opens_reasoning = false;
  // Time limit from submission; when it passes the request finishes with kCancelled.
  std::optional<std::chrono::steady_clock::duration> timeout;
};

// One generated token, with its logprobs when the request asked for them.
struct TokenOutput {
  int32_t token = 0;
  float logprob = 0.0f;
  std::vector<sampling::TokenLogprob> top;  // params.top_logprobs alternatives, most likely first
  std::string text;                          // this token's share of the released text (may be empty)
};

// What one completion (index in [0, n)) produced since its previous delta.
struct CompletionDelta {
  int index = 0;
  std::string text;                 // content released now (stop-string hold-back applied)
  std::string reasoning;            // reasoning released now (split_reasoning only)
  std::vector<TokenOutput> tokens;  // tokens generated since the previous delta
  std::optional<FinishReason> finish;
  std::optional<std::string> stop_reason;  // the stop string matched, or the stop token's text
};

// The first update of every request that leaves the queue has no deltas: it is sent when the request is
// admitted, before its prefill, so the time from submit() to it is the request's queue time.
struct RequestUpdate {
  uint64_t request_id = 0;
  std::vector<CompletionDelta> deltas;  // only the completions that changed (none in the admission update)
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;     // prompt tokens served from the prefix cache
  int64_t completion_tokens = 0;        // all completions together, so far
  bool finished = false;                // every completion has finished: the last update
};

using UpdateSink = std::function<void(const RequestUpdate&)>;

// The waiting queue is full: the server answers 429 with Retry-After.
class QueueFull : public Error {
 public:
  using Error::Error;
};

// Engine-wide counters and gauges for /metrics and load tests.
struct EngineStats {
  int64_t waiting = 0;             // requests queued, not yet admitted
  int64_t running = 0;             // completions holding KV blocks
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;      // held by running sequences (cached-but-free blocks not counted)
  int64_t prompt_tokens = 0;       // counters since start
  int64_t generation_tokens = 0;
  int64_t prefix_cache_queries = 0;  // prompt tokens looked up in the prefix cache
  int64_t prefix_cache_hits = 0;     // of those, tokens found
  int64_t preemptions = 0;
  int64_t requests_finished = 0;
  int64_t steps = 0;
  double kv_usage() const { return kv_blocks_total ? double(kv_blocks_used) / double(kv_blocks_total) : 0.0; }
};

class Engine {
 public:
  // The engine does not own the model or the tokenizer; both must outlive it. eos_ids: the model's end
  // tokens (generation_config.json eos_token_id, else the tokenizer's). Starts the engine thread.
  // Throws fp4::Error for a config value out of range.
  Engine(model::Model& model, const tokenizer::Tokenizer& tokenizer, std::vector<int32_t> eos_ids,
         EngineConfig config);
  ~Engine();  // shutdown(0) if still running
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request; returns its id. Throws fp4::Error for an invalid request (empty prompt, a token
  // outside the vocabulary, prompt longer than max_model_len: message names the limit) and QueueFull.
  // After shutdown() began, throws fp4::Error("engine: shutting down").
  uint64_t submit(EngineRequest request, UpdateSink sink);

  // Cancels a queued or running request: its sink gets a final update with FinishReason::kCancelled and
  // its blocks return to the pool before the next step. Unknown or finished ids are ignored.
  void cancel(uint64_t request_id);

  // Stops admitting new requests, lets running ones finish for up to `grace`, cancels the rest, joins
  // the engine thread. Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  EngineStats stats() const;
  const EngineConfig& config() const;
  int64_t max_model_len() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The final result of one request, for callers that don't stream (eval, apps, the CLI).
struct CompletionResult {
  std::string text;
  std::string reasoning;
  std::vector<TokenOutput> tokens;
  FinishReason finish = FinishReason::kLength;
  std::optional<std::string> stop_reason;
};
struct RequestResult {
  std::vector<CompletionResult> completions;  // [n]
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// Submits and blocks until the request finishes. Throws what submit() throws.
RequestResult run_to_completion(Engine& engine, EngineRequest request);

}  // namespace fp4::runtime
