// /metrics in the Prometheus text exposition format (version 0.0.4), under the names vLLM uses, so the
// dashboards and alerts written for vLLM work unchanged:
//   vllm:time_to_first_token_seconds, vllm:inter_token_latency_seconds, vllm:e2e_request_latency_seconds,
//   vllm:request_queue_time_seconds (histograms), vllm:num_requests_running / _waiting,
//   vllm:kv_cache_usage_perc (gauges), vllm:prompt_tokens_total, vllm:generation_tokens_total,
//   vllm:prefix_cache_queries_total, vllm:prefix_cache_hits_total, vllm:num_preemptions_total,
//   vllm:request_success_total{finished_reason} (counters).
// Quantities vLLM has no name for carry the fp4serve: prefix (KV blocks, HTTP responses by status).
//
// Latencies are measured by the server from the engine's updates (RequestTimer): arrival = when the
// request was submitted, first token = the first update carrying a token, and so on.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fp4/runtime/engine.h"

namespace fp4::server {

// A cumulative histogram with fixed upper bounds (the +Inf bucket is implicit). Thread-safe.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // [bounds.size() + 1], the last one is +Inf (= count)
    double sum = 0.0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; [bounds.size() + 1]
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  void observe_queue_time(double seconds) { queue_time_.observe(seconds); }
  void observe_ttft(double seconds) { ttft_.observe(seconds); }
  void observe_inter_token(double seconds) { inter_token_.observe(seconds); }
  void observe_e2e(double seconds) { e2e_.observe(seconds); }
  void observe_request_tokens(int64_t prompt, int64_t generated);
  void completion_finished(std::string_view finish_reason);
  void http_response(int status);

  // The whole exposition. stats: null while the model loads (engine gauges are then absent).
  std::string render(const std::string& model_name, const runtime::EngineStats* stats) const;

 private:
  Histogram queue_time_, ttft_, inter_token_, e2e_, prompt_tokens_, generation_tokens_;
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> finished_;  // by finish reason
  std::map<int, uint64_t> http_status_;
};

// Prometheus label values escape backslash, double quote and newline.
std::string escape_label_value(std::string_view value);

// Per-request timing from the engine's updates, called on the engine thread (cheap, never blocks long).
class RequestTimer {
 public:
  using Clock = std::chrono::steady_clock;
  RequestTimer(ServerMetrics& metrics, Clock::time_point arrival) : metrics_(metrics), arrival_(arrival) {}
  void on_update(const runtime::RequestUpdate& update);
  Clock::time_point arrival() const { return arrival_; }

 private:
  ServerMetrics& metrics_;
  Clock::time_point arrival_;
  Clock::time_point last_token_{};
  int64_t tokens_seen_ = 0;
  bool first_update_seen_ = false;
  bool first_token_seen_ = false;
};

}  // namespace fp4::server
