// Prometheus text: histogram buckets are cumulative, names and labels as documented, every sample line
// parses as "name{labels} value".
#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include "fp4/server/metrics.h"

namespace fp4::server {
namespace {

TEST(Histogram, BucketsAreCumulativeAndLessOrEqual) {
  Histogram h({0.1, 1.0, 10.0});
  for (double v : {0.05, 0.1, 0.5, 1.0, 20.0}) h.observe(v);
  const Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 4, 5}));  // le=0.1 holds 0.1 itself
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 21.65);
}

TEST(ServerMetrics, RendersEngineGaugesCountersAndHistograms) {
  ServerMetrics m;
  m.observe_ttft(0.02);
  m.observe_inter_token(0.003);
  m.completion_finished("stop");
  m.completion_finished("cancelled");
  m.http_response(200);
  runtime::EngineStats stats;
  stats.waiting = 3;
  stats.running = 2;
  stats.kv_blocks_total = 100;
  stats.kv_blocks_used = 25;
  stats.prompt_tokens = 40;
  stats.generation_tokens = 9;
  const std::string text = m.render("tiny \"r1\"", &stats);
  EXPECT_NE(text.find("vllm:num_requests_waiting{model_name=\"tiny \\\"r1\\\"\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vllm:kv_cache_usage_perc{model_name=\"tiny \\\"r1\\\"\"} 0.25\n"), std::string::npos);
  EXPECT_NE(text.find("fp4serve:kv_cache_blocks_used{model_name=\"tiny \\\"r1\\\"\"} 25\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:request_success_total{model_name=\"tiny \\\"r1\\\"\",finished_reason=\"cancelled\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_count{model_name=\"tiny \\\"r1\\\"\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE vllm:inter_token_latency_seconds histogram\n"), std::string::npos);

  // Every non-comment line is `name{labels} value` with a numeric value.
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*\{[^}]*\} [-+0-9.e]+(Inf)?$)");
  std::istringstream lines(text);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_GT(samples, 50);
}

TEST(ServerMetrics, EngineGaugesAreAbsentWhileLoading) {
  ServerMetrics m;
  const std::string text = m.render("m", nullptr);
  EXPECT_EQ(text.find("vllm:num_requests_running"), std::string::npos);
  EXPECT_NE(text.find("vllm:e2e_request_latency_seconds_count"), std::string::npos);
}

TEST(RequestTimer, MeasuresFirstTokenGapsAndEnd) {
  ServerMetrics m;
  RequestTimer timer(m, RequestTimer::Clock::now());
  runtime::RequestUpdate u;
  u.prompt_tokens = 5;
  u.completion_tokens = 1;
  u.deltas.push_back({});
  timer.on_update(u);  // first token
  u.completion_tokens = 2;
  timer.on_update(u);  // one gap
  u.completion_tokens = 3;
  u.deltas[0].finish = runtime::FinishReason::kLength;
  u.finished = true;
  timer.on_update(u);  // another gap, and the end
  const std::string text = m.render("m", nullptr);
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_count{model_name=\"m\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:inter_token_latency_seconds_count{model_name=\"m\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:request_queue_time_seconds_count{model_name=\"m\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("finished_reason=\"length\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:request_generation_tokens_sum{model_name=\"m\"} 3\n"), std::string::npos);
}

}  // namespace
}  // namespace fp4::server
