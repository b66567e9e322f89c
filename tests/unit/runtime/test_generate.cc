// KV cache block accounting and single-sequence generation against the golden greedy continuation of
// transformers (the sampler itself has its own tests).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/safetensors.h"
#include "fp4/model/model.h"
#include "fp4/runtime/generate.h"
#include "fp4/runtime/kv_cache.h"

namespace fp4::runtime {
namespace {

std::string fixture(const std::string& name) { return std::string(FP4_SOURCE_DIR) + "/tests/golden/" + name; }

std::vector<int32_t> golden_ids(const std::string& name, const std::string& tensor) {
  auto file = io::SafetensorsFile::open(fixture(name) + "/expected.safetensors");
  const io::TensorView v = file->view(tensor);
  std::vector<int32_t> out(static_cast<size_t>(v.numel()));
  std::memcpy(out.data(), v.as<int32_t>(DType::kI32), out.size() * sizeof(int32_t));
  return out;
}

TEST(KvCache, BlocksAreHandedOutAndReturned) {
  KvCache cache(2, 8, 4, 3);  // 2 layers, rows of 8 floats, blocks of 4 tokens, 3 blocks
  EXPECT_EQ(cache.free_blocks(), 3);
  EXPECT_EQ(cache.bytes(), 2u * 3 * 4 * 8 * sizeof(float));
  {
    SequenceKv a(cache);
    a.reserve(5);  // two blocks
    EXPECT_EQ(a.capacity(), 8);
    EXPECT_EQ(cache.free_blocks(), 1);
    const model::KvSequenceView v = a.view();
    // Rows of consecutive positions in one block are adjacent; the next block starts elsewhere.
    EXPECT_EQ(v.row(1, 1) - v.row(1, 0), 8);
    EXPECT_EQ(v.row(0, 4), cache.layer_bases()[0] + a.blocks()[1] * 4 * 8);
    SequenceKv b(cache);
    b.reserve(4);
    EXPECT_EQ(cache.free_blocks(), 0);
    SequenceKv c(cache);
    EXPECT_THROW(c.reserve(1), Error);
  }
  EXPECT_EQ(cache.free_blocks(), 3);  // released by the sequences' destructors
  EXPECT_THROW(cache.release(0), Error);
  EXPECT_THROW(KvCache(0, 8, 4, 3), Error);
}

// generate() (paged cache with small blocks, prefill then one-token decode) reproduces transformers'
// greedy continuation of prompt 0.
class GenerateGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(GenerateGolden, GreedyContinuationMatchesTransformers) {
  ThreadPool pool(2);
  auto m = model::Model::load(fixture(GetParam()), pool);
  const std::vector<int32_t> prompt = golden_ids(GetParam(), "prompt0.ids");
  const std::vector<int32_t> greedy = golden_ids(GetParam(), "greedy.ids");
  GenerateOptions opt;
  opt.max_tokens = static_cast<int64_t>(greedy.size() - prompt.size());
  opt.block_size = 3;
  std::vector<int32_t> streamed;
  const GenerateResult r = generate(*m, prompt, opt, [&](int32_t t) { streamed.push_back(t); });
  EXPECT_EQ(r.tokens, std::vector<int32_t>(greedy.begin() + static_cast<std::ptrdiff_t>(prompt.size()), greedy.end()));
  EXPECT_EQ(streamed, r.tokens);
  EXPECT_EQ(r.prompt_tokens, static_cast<int64_t>(prompt.size()));
  EXPECT_FALSE(r.stopped);
}

TEST_P(GenerateGolden, StopsOnAStopToken) {
  ThreadPool pool(1);
  auto m = model::Model::load(fixture(GetParam()), pool);
  const std::vector<int32_t> prompt = golden_ids(GetParam(), "prompt0.ids");
  const std::vector<int32_t> greedy = golden_ids(GetParam(), "greedy.ids");
  GenerateOptions opt;
  opt.max_tokens = 20;
  opt.stop_tokens = {greedy[prompt.size() + 2]};  // the third generated token
  const GenerateResult r = generate(*m, prompt, opt);
  EXPECT_TRUE(r.stopped);
  EXPECT_LE(r.tokens.size(), 3u);
  EXPECT_EQ(r.tokens.back(), opt.stop_tokens[0]);
}

TEST_P(GenerateGolden, SampledGenerationIsReproducibleForASeed) {
  ThreadPool pool(1);
  auto m = model::Model::load(fixture(GetParam()), pool);
  const std::vector<int32_t> prompt = golden_ids(GetParam(), "prompt0.ids");
  GenerateOptions opt;
  opt.max_tokens = 12;
  opt.sampling.temperature = 1.5;
  opt.sampling.top_p = 0.95;
  opt.sampling.seed = 1234;
  const GenerateResult a = generate(*m, prompt, opt);
  const GenerateResult b = generate(*m, prompt, opt);
  EXPECT_EQ(a.tokens, b.tokens);
  ASSERT_EQ(a.tokens.size(), 12u);
  opt.sampling.temperature = -1.0;
  EXPECT_THROW(generate(*m, prompt, opt), Error);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GenerateGolden,
                         ::testing::Values("deepseek_v3_bf16", "deepseek_v2_lite_fp8", "llama_fp8", "qwen3_bf16"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace fp4::runtime
