// Many concurrent requests with every way to end (EOS, stop strings, max_tokens, context end, cancel from
// the sink, timeouts, n > 1) on a cramped cache that forces preemption: each request gets exactly one
// final update, its usage adds up, and every block returns to the pool.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "fp4/runtime/engine.h"
#include "unit/runtime/test_engine_fixture.h"

namespace fp4::runtime {
namespace {

using test::EngineTest;

struct Tally {
  std::mutex mu;
  int finals = 0;
  int updates_after_final = 0;
  int64_t tokens_seen = 0;
  int64_t completion_tokens = 0;
  bool finished = false;
  std::vector<bool> completion_finished;
};

TEST_F(EngineTest, EveryEndingReleasesItsBlocksUnderLoad) {
  EngineConfig c = small_config();
  c.max_model_len = 96;
  c.kv_cache_tokens = 192;  // 12 blocks for up to 8 running completions: constant preemption
  c.max_num_seqs = 8;
  c.max_num_batched_tokens = 24;

  // Everything the sinks touch is declared before the engine, so it outlives the engine thread: the
  // engine (destroyed first) joins its thread, which may still be inside a sink right after the last
  // final update woke the test.
  constexpr int kRequests = 40;
  std::vector<std::unique_ptr<Tally>> tallies;
  for (int i = 0; i < kRequests; ++i) tallies.push_back(std::make_unique<Tally>());
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < kRequests; ++i) {
    prompts.push_back(chat_prompt("What is " + std::to_string(i * 7) + " + " + std::to_string(i) + "?"));
  }
  std::mutex done_mu;
  std::condition_variable done_cv;
  int done = 0;
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, c);
  std::vector<std::thread> clients;
  std::atomic<int> next{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      for (int i = next++; i < kRequests; i = next++) {
        Tally& tally = *tallies[static_cast<size_t>(i)];
        EngineRequest req;
        req.prompt = prompts[static_cast<size_t>(i)];
        req.params = seeded_params(1 + static_cast<int64_t>(rng() % 60), i);
        req.params.n = 1 + static_cast<int>(rng() % 3);
        req.params.ignore_eos = rng() % 2 == 0;
        if (rng() % 3 == 0) req.params.stop = {"\n", "+"};
        if (rng() % 4 == 0) req.params.max_tokens.reset();  // until the context ends
        if (rng() % 5 == 0) req.timeout = std::chrono::milliseconds(1 + rng() % 50);
        req.split_reasoning = rng() % 2 == 0;
        req.prompt_opens_reasoning = req.split_reasoning;
        if (rng() % 4 == 0) req.params.max_reasoning_tokens = static_cast<int64_t>(rng() % 8);
        const int cancel_at = rng() % 4 == 0 ? 1 + static_cast<int>(rng() % 5) : -1;
        tally.completion_finished.assign(static_cast<size_t>(req.params.n), false);
        auto updates = std::make_shared<int>(0);
        engine.submit(req, [&, updates, cancel_at](const RequestUpdate& u) {
          if (++*updates == cancel_at) engine.cancel(u.request_id);
          std::lock_guard lock(tally.mu);
          if (tally.finished) ++tally.updates_after_final;
          for (const CompletionDelta& d : u.deltas) {
            tally.tokens_seen += static_cast<int64_t>(d.tokens.size());
            if (d.finish) tally.completion_finished[static_cast<size_t>(d.index)] = true;
          }
          tally.completion_tokens = u.completion_tokens;
          if (u.finished) {
            ++tally.finals;
            tally.finished = true;
            std::lock_guard done_lock(done_mu);
            ++done;
            done_cv.notify_all();
          }
        });
      }
    });
  }
  for (auto& t : clients) t.join();
  {
    std::unique_lock lock(done_mu);
    done_cv.wait(lock, [&] { return done == kRequests; });
  }

  for (int i = 0; i < kRequests; ++i) {
    const Tally& tally = *tallies[static_cast<size_t>(i)];
    EXPECT_EQ(tally.finals, 1) << "request " << i;
    EXPECT_EQ(tally.updates_after_final, 0) << "request " << i;
    EXPECT_EQ(tally.tokens_seen, tally.completion_tokens) << "request " << i;
    for (bool f : tally.completion_finished) EXPECT_TRUE(f) << "request " << i;
  }
  const EngineStats s = engine.stats();
  EXPECT_EQ(s.requests_finished, kRequests);
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.running, 0);
  EXPECT_EQ(s.waiting, 0);
}

}  // namespace
}  // namespace fp4::runtime
