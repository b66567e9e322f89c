// The engine over the other model families (GQA caches of Llama and Qwen3, DeepSeek-V2 MLA) with the
// small golden checkpoints: tiny blocks, a cramped cache (preemption), a small token budget (chunked
// prefill) and n = 2 (forks with a partly filled block copied) must leave every greedy continuation
// equal to single-sequence generate(). The text side uses tiny-r1's tokenizer; only ids are compared.
#include <gtest/gtest.h>

#include <thread>

#include "fp4/base/thread_pool.h"
#include "fp4/runtime/engine.h"
#include "fp4/runtime/generate.h"
#include "unit/runtime/test_engine_fixture.h"

namespace fp4::runtime {
namespace {

class EngineFamilies : public test::EngineTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(EngineFamilies, GreedyContinuationsSurviveBatchingPreemptionAndForks) {
  ThreadPool pool(2);
  const auto model = model::Model::load(std::string(FP4_SOURCE_DIR) + "/tests/golden/" + GetParam(), pool);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 4; ++i) {
    std::vector<int32_t> p;
    for (int t = 0; t < 9 + 3 * i; ++t) p.push_back((17 * t + 31 * i + 5) % 256);
    prompts.push_back(p);
  }
  EngineConfig c;
  c.block_size = 3;
  c.max_model_len = 48;
  c.kv_cache_tokens = 48;  // 16 blocks for 4 requests × 2 completions of up to 45 tokens
  c.max_num_batched_tokens = 7;
  c.max_num_seqs = 8;
  Engine engine(*model, *served().tokenizer, {}, c);
  std::vector<RequestResult> results(prompts.size());
  std::vector<std::thread> clients;
  for (size_t i = 0; i < prompts.size(); ++i) {
    clients.emplace_back([&, i] {
      EngineRequest req;
      req.prompt = prompts[i];
      req.params = greedy_params(24);
      req.params.n = 2;
      results[i] = run_to_completion(engine, req);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_GT(engine.stats().preemptions, 0);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerateOptions opt;
    opt.max_tokens = 24;
    opt.block_size = 3;
    const GenerateResult expected = generate(*model, prompts[i], opt);
    for (const CompletionResult& comp : results[i].completions) {
      EXPECT_EQ(test::token_ids(comp), expected.tokens) << "prompt " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, EngineFamilies,
                         ::testing::Values("llama_fp8", "qwen3_bf16", "qwen2_tied_bf16", "deepseek_v2_lite_fp8",
                                           "deepseek_v3_nvfp4"));

}  // namespace
}  // namespace fp4::runtime
