// The engine-thread → HTTP-thread hand-off: updates arrive in order, tagged with their prompt, and a
// wait with nothing queued returns empty.
#include <gtest/gtest.h>

#include <thread>

#include "fp4/server/update_channel.h"

namespace fp4::server {
namespace {

TEST(UpdateChannel, DeliversUpdatesInOrderAcrossThreads) {
  auto channel = std::make_shared<UpdateChannel>();
  ServerMetrics metrics;
  auto timer = std::make_shared<RequestTimer>(metrics, RequestTimer::Clock::now());
  runtime::UpdateSink sink = make_sink(channel, 3, timer);
  std::thread engine([&] {
    for (int i = 1; i <= 100; ++i) {
      runtime::RequestUpdate u;
      u.completion_tokens = i;
      u.finished = i == 100;
      sink(u);
    }
  });
  std::vector<TaggedUpdate> got;
  while (got.empty() || !got.back().update.finished) {
    for (TaggedUpdate& u : channel->wait(std::chrono::milliseconds(100))) got.push_back(std::move(u));
  }
  engine.join();
  ASSERT_EQ(got.size(), 100u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].prompt_index, 3u);
    EXPECT_EQ(got[i].update.completion_tokens, static_cast<int64_t>(i + 1));
  }
  // The timer saw every update: one first token, 99 gaps, one end.
  const std::string text = metrics.render("m", nullptr);
  EXPECT_NE(text.find("vllm:inter_token_latency_seconds_count{model_name=\"m\"} 99\n"), std::string::npos);
  EXPECT_NE(text.find("vllm:e2e_request_latency_seconds_count{model_name=\"m\"} 1\n"), std::string::npos);
}

TEST(UpdateChannel, WaitTimesOutEmpty) {
  UpdateChannel channel;
  EXPECT_TRUE(channel.wait(std::chrono::milliseconds(1)).empty());
}

}  // namespace
}  // namespace fp4::server
