// Preemption by recompute and chunked prefill on tiny-r1: a cache far too small for the running requests
// forces the scheduler to drop and later recompute sequences (prompt and generated tokens); a small
// token budget splits prompts into chunks. Neither may change what a request generates, greedy or seeded.
#include <gtest/gtest.h>

#include <thread>

#include "fp4/runtime/engine.h"
#include "fp4/runtime/generate.h"
#include "unit/runtime/test_engine_fixture.h"

namespace fp4::runtime {
namespace {

using test::EngineTest;
using test::token_ids;

// Runs every request concurrently on an engine with config `c`; returns the token ids per request.
std::vector<std::vector<int32_t>> run_all(ServedModel& served, const EngineConfig& c,
                                          const std::vector<EngineRequest>& requests, EngineStats* stats) {
  Engine engine(*served.model, *served.tokenizer, served.eos_ids, c);
  std::vector<std::vector<int32_t>> out(requests.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < requests.size(); ++i) {
    clients.emplace_back([&, i] { out[i] = token_ids(run_to_completion(engine, requests[i]).completions[0]); });
  }
  for (auto& t : clients) t.join();
  if (stats) *stats = engine.stats();
  return out;
}

class PreemptionTest : public EngineTest {
 protected:
  std::vector<EngineRequest> requests(bool seeded) {
    std::vector<EngineRequest> reqs;
    for (int i = 0; i < 6; ++i) {
      EngineRequest r;
      r.prompt = chat_prompt("What is " + std::to_string(20 + 7 * i) + " plus " + std::to_string(3 + i) + "?");
      r.params = seeded ? seeded_params(72, 500 + i) : greedy_params(72);
      r.params.ignore_eos = true;
      reqs.push_back(std::move(r));
    }
    return reqs;
  }
  static EngineConfig roomy() {
    EngineConfig c = small_config();
    c.max_model_len = 128;
    c.kv_cache_tokens = 4096;
    return c;
  }
  // Eight blocks of 16 tokens: one full-length sequence fits, six sequences of ~90 tokens do not.
  static EngineConfig cramped() {
    EngineConfig c = roomy();
    c.kv_cache_tokens = 128;
    return c;
  }
};

TEST_F(PreemptionTest, RecomputeGivesTheSameGreedyTokens) {
  EngineStats roomy_stats, cramped_stats;
  const auto expected = run_all(served(), roomy(), requests(false), &roomy_stats);
  const auto got = run_all(served(), cramped(), requests(false), &cramped_stats);
  EXPECT_EQ(roomy_stats.preemptions, 0);
  EXPECT_GT(cramped_stats.preemptions, 0);
  EXPECT_EQ(cramped_stats.kv_blocks_used, 0);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(got[i].size(), 72u);
    EXPECT_EQ(got[i], expected[i]) << "request " << i;
  }
}

TEST_F(PreemptionTest, RecomputeGivesTheSameSeededTokens) {
  EngineStats cramped_stats;
  const auto expected = run_all(served(), roomy(), requests(true), nullptr);
  const auto got = run_all(served(), cramped(), requests(true), &cramped_stats);
  EXPECT_GT(cramped_stats.preemptions, 0);
  EXPECT_EQ(cramped_stats.kv_blocks_used, 0);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "request " << i;
}

// A budget of 5 tokens per step prefills a ~20-token prompt in chunks, alongside other requests'
// decode rows; the greedy result still equals single-sequence generate().
TEST_F(PreemptionTest, ChunkedPrefillGivesTheSameTokens) {
  const auto reqs = requests(false);
  EngineConfig c = roomy();
  c.max_num_batched_tokens = 5;
  const auto got = run_all(served(), c, reqs, nullptr);
  for (size_t i = 0; i < reqs.size(); ++i) {
    GenerateOptions opt;
    opt.max_tokens = 72;
    const GenerateResult expected = generate(*served().model, reqs[i].prompt, opt);
    EXPECT_EQ(got[i], expected.tokens) << "request " << i;
  }
}


// Completions forked from one prefill share its prompt blocks; preempting one of them drops only its
// references. Every completion still matches the roomy run, with and without the prefix cache.
TEST_F(PreemptionTest, ForkedCompletionsSurvivePreemption) {
  std::vector<EngineRequest> reqs;
  for (int i = 0; i < 3; ++i) {
    EngineRequest r;
    r.prompt = chat_prompt("What is " + std::to_string(31 * (i + 1)) + " minus 9?");
    r.params = seeded_params(60, 900 + i);
    r.params.ignore_eos = true;
    r.params.n = 3;
    reqs.push_back(std::move(r));
  }
  auto run_n = [&](const EngineConfig& c, EngineStats* stats) {
    Engine engine(*served().model, *served().tokenizer, served().eos_ids, c);
    std::vector<RequestResult> out(reqs.size());
    std::vector<std::thread> clients;
    for (size_t i = 0; i < reqs.size(); ++i) {
      clients.emplace_back([&, i] { out[i] = run_to_completion(engine, reqs[i]); });
    }
    for (auto& t : clients) t.join();
    *stats = engine.stats();
    return out;
  };
  EngineStats s;
  const auto expected = run_n(roomy(), &s);
  for (bool prefix_caching : {true, false}) {
    EngineConfig c = cramped();
    c.prefix_caching = prefix_caching;
    const auto got = run_n(c, &s);
    EXPECT_GT(s.preemptions, 0);
    EXPECT_EQ(s.kv_blocks_used, 0);
    for (size_t i = 0; i < reqs.size(); ++i) {
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_EQ(token_ids(got[i].completions[k]), token_ids(expected[i].completions[k]))
            << "request " << i << " completion " << k << (prefix_caching ? "" : " (no prefix cache)");
      }
    }
  }
}

}  // namespace
}  // namespace fp4::runtime
