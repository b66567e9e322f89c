#include "fp4/server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace fp4::server {
namespace {

// Bucket bounds in seconds. This engine runs on CPUs as well as GPUs, so the latency buckets reach down
// to a millisecond and up to the longest reasoning answers (tens of minutes).
std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.15,  0.25,  0.5,  0.75,
          1.0,   1.5,    2.0,   2.5,  5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
}
std::vector<double> token_count_buckets() {
  return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000};
}

std::string number(double v) { return fmt::format("{}", v); }

// The engine's names ("stop", "length", "cancelled"), spelled here so that this file needs nothing but
// the engine's types.
std::string_view reason_label(runtime::FinishReason reason) {
  switch (reason) {
    case runtime::FinishReason::kStop:
      return "stop";
    case runtime::FinishReason::kLength:
      return "length";
    case runtime::FinishReason::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

void append_histogram(std::string& out, const std::string& name, const std::string& help, const std::string& labels,
                      const Histogram::Snapshot& s) {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  for (size_t i = 0; i < s.bounds.size(); ++i) {
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, number(s.bounds[i]), s.cumulative[i]);
  }
  out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, s.count);
  out += fmt::format("{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, number(s.sum), name, labels, s.count);
}

void append_scalar(std::string& out, const std::string& type, const std::string& name, const std::string& help,
                   const std::string& labels, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{}{{{}}} {}\n", name, help, name, type, name, labels, number(value));
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  // First bucket whose upper bound is >= value (Prometheus buckets are "le").
  const size_t bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::lock_guard<std::mutex> lock(mutex_);
  s.cumulative.resize(counts_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    running += counts_[i];
    s.cumulative[i] = running;
  }
  s.sum = sum_;
  s.count = count_;
  return s;
}

ServerMetrics::ServerMetrics()
    : queue_time_(latency_buckets()),
      ttft_(latency_buckets()),
      inter_token_(latency_buckets()),
      e2e_(latency_buckets()),
      prompt_tokens_(token_count_buckets()),
      generation_tokens_(token_count_buckets()) {}

void ServerMetrics::observe_request_tokens(int64_t prompt, int64_t generated) {
  prompt_tokens_.observe(static_cast<double>(prompt));
  generation_tokens_.observe(static_cast<double>(generated));
}

void ServerMetrics::completion_finished(std::string_view finish_reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++finished_[std::string(finish_reason)];
}

void ServerMetrics::http_response(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++http_status_[status];
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string ServerMetrics::render(const std::string& model_name, const runtime::EngineStats* stats) const {
  const std::string model = fmt::format("model_name=\"{}\"", escape_label_value(model_name));
  std::string out;
  if (stats) {
    append_scalar(out, "gauge", "vllm:num_requests_running", "Completions holding KV blocks.", model,
                  static_cast<double>(stats->running));
    append_scalar(out, "gauge", "vllm:num_requests_waiting", "Requests queued, not yet admitted.", model,
                  static_cast<double>(stats->waiting));
    append_scalar(out, "gauge", "vllm:kv_cache_usage_perc", "Fraction of KV blocks in use (0 to 1).", model,
                  stats->kv_usage());
    append_scalar(out, "gauge", "fp4serve:kv_cache_blocks_used", "KV blocks held by running sequences.", model,
                  static_cast<double>(stats->kv_blocks_used));
    append_scalar(out, "gauge", "fp4serve:kv_cache_blocks_total", "KV blocks in the pool.", model,
                  static_cast<double>(stats->kv_blocks_total));
    append_scalar(out, "counter", "vllm:prompt_tokens_total", "Prefill tokens processed.", model,
                  static_cast<double>(stats->prompt_tokens));
    append_scalar(out, "counter", "vllm:generation_tokens_total", "Tokens generated.", model,
                  static_cast<double>(stats->generation_tokens));
    append_scalar(out, "counter", "vllm:prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
                  model, static_cast<double>(stats->prefix_cache_queries));
    append_scalar(out, "counter", "vllm:prefix_cache_hits_total", "Prompt tokens found in the prefix cache.", model,
                  static_cast<double>(stats->prefix_cache_hits));
    append_scalar(out, "counter", "vllm:num_preemptions_total", "Sequences preempted (to be recomputed).", model,
                  static_cast<double>(stats->preemptions));
    append_scalar(out, "counter", "fp4serve:engine_steps_total", "Engine steps (batched forward passes).", model,
                  static_cast<double>(stats->steps));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    out += "# HELP vllm:request_success_total Completions finished, by finish reason.\n";
    out += "# TYPE vllm:request_success_total counter\n";
    for (const char* reason : {"stop", "length", "cancelled"}) {
      auto it = finished_.find(reason);
      out += fmt::format("vllm:request_success_total{{{},finished_reason=\"{}\"}} {}\n", model, reason,
                         it == finished_.end() ? 0 : it->second);
    }
    out += "# HELP fp4serve:http_responses_total HTTP responses sent, by status code.\n";
    out += "# TYPE fp4serve:http_responses_total counter\n";
    for (const auto& [status, count] : http_status_) {
      out += fmt::format("fp4serve:http_responses_total{{{},status=\"{}\"}} {}\n", model, status, count);
    }
  }
  append_histogram(out, "vllm:time_to_first_token_seconds", "Time from arrival to the first generated token.", model,
                   ttft_.snapshot());
  append_histogram(out, "vllm:inter_token_latency_seconds", "Time between successive token updates of a request.",
                   model, inter_token_.snapshot());
  append_histogram(out, "vllm:e2e_request_latency_seconds", "Time from arrival to the last token.", model,
                   e2e_.snapshot());
  append_histogram(out, "vllm:request_queue_time_seconds", "Time from arrival to the first engine update.", model,
                   queue_time_.snapshot());
  append_histogram(out, "vllm:request_prompt_tokens", "Prompt tokens per request.", model, prompt_tokens_.snapshot());
  append_histogram(out, "vllm:request_generation_tokens", "Generated tokens per request.", model,
                   generation_tokens_.snapshot());
  return out;
}

void RequestTimer::on_update(const runtime::RequestUpdate& update) {
  const Clock::time_point now = Clock::now();
  const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  if (!first_update_seen_) {
    first_update_seen_ = true;
    metrics_.observe_queue_time(seconds(now - arrival_));
  }
  if (update.completion_tokens > tokens_seen_) {
    if (!first_token_seen_) {
      first_token_seen_ = true;
      metrics_.observe_ttft(seconds(now - arrival_));
    } else {
      metrics_.observe_inter_token(seconds(now - last_token_));
    }
    last_token_ = now;
    tokens_seen_ = update.completion_tokens;
  }
  for (const runtime::CompletionDelta& d : update.deltas) {
    if (d.finish) metrics_.completion_finished(reason_label(*d.finish));
  }
  if (update.finished) {
    metrics_.observe_e2e(seconds(now - arrival_));
    metrics_.observe_request_tokens(update.prompt_tokens, update.completion_tokens);
  }
}

}  // namespace fp4::server
