// Decode byte counting of `fp4serve bench` on the small golden models: every figure below is derived by
// hand from the fixture's config.json and its tensor encodings (attention, router and lm_head BF16;
// MLPs NVFP4 with a 0-D weight_scale_2 and input_scale), so a miscount in any category shows. No timing.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/model_config.h"
#include "fp4/model/model.h"
#include "fp4/runtime/bandwidth_probe.h"
#include "fp4/runtime/kv_cache.h"
#include "fp4/runtime/model_bench.h"

namespace fp4::runtime {
namespace {

std::string fixture(const std::string& name) { return std::string(FP4_SOURCE_DIR) + "/tests/golden/" + name; }

DecodeByteCount count(const std::string& name) {
  const io::HfCheckpoint ckpt = io::HfCheckpoint::open(fixture(name), io::HfCheckpoint::Mode::kHeaderOnly);
  return count_decode_bytes(ckpt, io::load_model_config(fixture(name)));
}

// NVFP4 linear [N, K]: N·K/2 code bytes + N·K/16 E4M3 block scales + weight_scale_2 and input_scale (f32).
constexpr uint64_t nvfp4(uint64_t n, uint64_t k) { return n * k / 2 + n * k / 16 + 4 + 4; }
constexpr uint64_t bf16(uint64_t n, uint64_t k) { return n * k * 2; }
constexpr uint64_t f32_vector(uint64_t n) { return n * 4; }

// deepseek_v2_lite: hidden 160, vocab 256, 3 layers (layer 0 dense, intermediate 192), 4 heads, no
// q_lora, kv_lora_rank 48, rope 16, nope 32, v 32, 8 routed experts (width 32), top-2, 2 shared.
TEST(DecodeByteCount, DeepseekV2LiteNvfp4MatchesTheConfig) {
  const DecodeByteCount c = count("deepseek_v2_lite_nvfp4");
  const uint64_t H = 160, heads = 4, L = 48, R = 16, P = 32, V = 32, layers = 3;
  EXPECT_EQ(c.embedding_row, H * 2);
  // q_proj [4·48, 160], kv_a [48+16, 160], o_proj [160, 4·32] in BF16, kv_a_layernorm [48] as f32; kv_b is
  // replaced by its absorbed copies, BF16 because kv_b is BF16: per head [L, P] + [V, L].
  EXPECT_EQ(c.attention, layers * (bf16(heads * (P + R), H) + bf16(L + R, H) + bf16(H, heads * V) + f32_vector(L)));
  EXPECT_EQ(c.absorbed_kv_b, layers * heads * (L * P + V * L) * 2);
  EXPECT_EQ(c.dense_mlp, 2 * nvfp4(192, H) + nvfp4(H, 192));
  EXPECT_EQ(c.router, 2 * bf16(8, H));
  EXPECT_EQ(c.shared_experts, 2 * (2 * nvfp4(64, H) + nvfp4(H, 64)));
  EXPECT_EQ(c.norms, layers * 2 * f32_vector(H) + f32_vector(H));
  EXPECT_EQ(c.head, bf16(256, H));
  const uint64_t expert = 2 * nvfp4(32, H) + nvfp4(H, 32);
  ASSERT_EQ(c.expert_bytes.size(), layers);
  EXPECT_TRUE(c.expert_bytes[0].empty());
  for (size_t l = 1; l < layers; ++l) EXPECT_EQ(c.expert_bytes[l], std::vector<uint64_t>(8, expert));
  EXPECT_EQ(c.top_k, 2);
  EXPECT_EQ(c.expected_routed(), 2 * 2 * expert);
  EXPECT_EQ(c.kv_row_bytes, (L + R) * 4);
  EXPECT_EQ(c.kv_read(10), 10 * (L + R) * 4 * layers);
  EXPECT_EQ(c.all_experts(), c.fixed() + 2 * 8 * expert);
}

// qwen2_tied: hidden 160, 5 heads / 1 kv head × 32, intermediate 256, 2 layers, q/k/v biases, tied head.
TEST(DecodeByteCount, TiedQwen2ReadsTheEmbeddingTableAsItsHead) {
  const DecodeByteCount c = count("qwen2_tied_bf16");
  const uint64_t H = 160, D = 32, layers = 2;
  EXPECT_EQ(c.embedding_row, H * 2);
  EXPECT_EQ(c.head, bf16(256, H));  // no lm_head tensor: the whole embedding table
  EXPECT_EQ(c.attention, layers * (bf16(5 * D, H) + 2 * bf16(D, H) + bf16(H, 5 * D) + f32_vector(5 * D + 2 * D)));
  EXPECT_EQ(c.absorbed_kv_b, 0u);
  EXPECT_EQ(c.dense_mlp, layers * 3 * bf16(256, H));
  EXPECT_EQ(c.router + c.shared_experts, 0u);
  EXPECT_EQ(c.top_k, 0);
  EXPECT_EQ(c.expected_routed(), 0u);
  EXPECT_EQ(c.kv_row_bytes, 2 * D * 4);
}

// The routed bytes come from the experts the model reports for the step: one decode step of the real
// forward pass routes top-2 distinct experts in each of the 2 MoE layers.
TEST(DecodeByteCount, RoutedBytesFollowTheModelsRouting) {
  ThreadPool pool(1);
  const std::string dir = fixture("deepseek_v2_lite_nvfp4");
  auto model = model::Model::load(dir, pool);
  const DecodeByteCount c = count("deepseek_v2_lite_nvfp4");
  KvCache cache = KvCache::for_model(*model, 4);
  SequenceKv seq(cache);
  seq.reserve(4);
  std::vector<float> logits(static_cast<size_t>(model->vocab_size()));
  const std::vector<int32_t> prompt = {3, 17, 42};
  model->forward(prompt, 0, seq.view(), {}, logits.data());
  std::vector<model::RoutingRecord> routing;
  model::ForwardOptions fwd;
  fwd.routing = &routing;
  const int32_t next = 5;
  model->forward(std::span<const int32_t>(&next, 1), 3, seq.view(), fwd, logits.data());
  ASSERT_EQ(routing.size(), 2u);
  uint64_t expected = 0;
  for (const model::RoutingRecord& r : routing) {
    ASSERT_EQ(r.experts.size(), 2u);
    EXPECT_NE(r.experts[0], r.experts[1]);
    for (int32_t e : r.experts) expected += c.expert_bytes[static_cast<size_t>(r.layer)][static_cast<size_t>(e)];
  }
  EXPECT_EQ(c.routed(routing), expected);
  EXPECT_EQ(c.routed(routing), c.expected_routed());  // all experts are the same size here
  // An expert chosen by two tokens of one call runs once, so it is read once.
  model::RoutingRecord twice{1, 2, 2, {0, 1, 0, 1}, {}};
  EXPECT_EQ(c.routed(std::span<const model::RoutingRecord>(&twice, 1)), 2 * c.expert_bytes[1][0]);
}

TEST(DecodeByteCount, RejectsRoutingThatDoesNotFitTheModel) {
  const DecodeByteCount c = count("deepseek_v2_lite_nvfp4");
  model::RoutingRecord dense_layer{0, 1, 2, {0, 1}, {}};
  EXPECT_THROW(c.routed(std::span<const model::RoutingRecord>(&dense_layer, 1)), Error);
  model::RoutingRecord no_such_expert{1, 1, 2, {0, 8}, {}};
  EXPECT_THROW(c.routed(std::span<const model::RoutingRecord>(&no_such_expert, 1)), Error);
}

// The whole bench on a golden model: step bookkeeping (positions, KV bytes, routing) is exact.
TEST(ModelBench, RecordsEveryDecodeStep) {
  ThreadPool pool(2);
  const std::string dir = fixture("deepseek_v2_lite_nvfp4");
  auto model = model::Model::load(dir, pool);
  const DecodeByteCount c = count("deepseek_v2_lite_nvfp4");
  ModelBenchOptions opt;
  opt.prompt_tokens = 7;
  opt.decode_tokens = 3;
  opt.bandwidth_buffer_bytes = 8u << 20;
  const ModelBenchResult r = run_model_bench(*model, c, pool, opt);
  ASSERT_EQ(r.steps.size(), 3u);
  for (size_t i = 0; i < r.steps.size(); ++i) {
    EXPECT_EQ(r.steps[i].position, 7 + static_cast<int64_t>(i));
    EXPECT_EQ(r.steps[i].kv_bytes, c.kv_read(8 + static_cast<int64_t>(i)));
    EXPECT_EQ(r.steps[i].routed_bytes, c.expected_routed());
  }
  EXPECT_EQ(r.fixed_bytes, c.fixed());
  EXPECT_EQ(r.bandwidth_before.buffer_bytes, 8u << 20);
  EXPECT_EQ(r.bandwidth_after.passes, 5);
  EXPECT_EQ(r.bandwidth().gb_per_second, std::max(r.bandwidth_before.gb_per_second, r.bandwidth_after.gb_per_second));
  EXPECT_GT(r.peak_rss_bytes, 0u);
  opt.decode_tokens = 0;
  EXPECT_THROW(run_model_bench(*model, c, pool, opt), Error);
}

TEST(BandwidthProbe, RoundsTheBufferToWholeSlicesAndRejectsZeroPasses) {
  ThreadPool pool(1);
  const BandwidthMeasurement m = measure_read_bandwidth(pool, (4u << 20) + 123, 2);
  EXPECT_EQ(m.buffer_bytes, 4u << 20);  // whole 4 MiB slices
  EXPECT_EQ(m.passes, 2);
  EXPECT_EQ(m.threads, 1);
  EXPECT_GT(m.gb_per_second, 0.0);
  EXPECT_THROW(measure_read_bandwidth(pool, 4u << 20, 0), Error);
}

}  // namespace
}  // namespace fp4::runtime
