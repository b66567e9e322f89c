// The layout a config implies, and acceptance point 2: DeepSeek-R1's FP8 and NVFP4 (R1-0528-FP4 recipe)
// totals checked against a hand count written out below.
#include <gtest/gtest.h>

#include <set>

#include "fp4/io/model_config.h"
#include "fp4/io/tensor_layout.h"

namespace fp4::io {
namespace {

std::string data_dir(const std::string& name) { return std::string(FP4_SOURCE_DIR) + "/tests/data/" + name; }

const ExpectedTensor* find(const std::vector<ExpectedTensor>& ts, const std::string& name) {
  for (const auto& t : ts) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST(TensorLayout, DeepSeekR1NamesAndShapes) {
  ModelConfig c = load_model_config(data_dir("deepseek_r1"));
  auto ts = expected_tensors(c, /*include_mtp=*/true);
  // Per layer: 2 norms + 5 MLA linears + 2 MLA norms = 9; dense MLP 3; MoE: router + bias + 257 × 3.
  // 1 embed + 3 × (9 + 3) + 58 × (9 + 2 + 771) + norm + lm_head + MTP (9 + 2 + 771 + 6 extras).
  EXPECT_EQ(ts.size(), 1u + 3 * 12 + 58 * 782 + 2 + (782 + 6));
  std::set<std::string> names;
  for (const auto& t : ts) EXPECT_TRUE(names.insert(t.name).second) << "duplicate " << t.name;

  auto shape = [&](const std::string& n) { return find(ts, n)->shape; };
  EXPECT_EQ(shape("model.embed_tokens.weight"), (std::vector<int64_t>{129280, 7168}));
  EXPECT_EQ(shape("model.layers.0.self_attn.q_a_proj.weight"), (std::vector<int64_t>{1536, 7168}));
  EXPECT_EQ(shape("model.layers.0.self_attn.q_b_proj.weight"), (std::vector<int64_t>{24576, 1536}));
  EXPECT_EQ(shape("model.layers.0.self_attn.kv_a_proj_with_mqa.weight"), (std::vector<int64_t>{576, 7168}));
  EXPECT_EQ(shape("model.layers.0.self_attn.kv_b_proj.weight"), (std::vector<int64_t>{32768, 512}));
  EXPECT_EQ(shape("model.layers.0.self_attn.o_proj.weight"), (std::vector<int64_t>{7168, 16384}));
  EXPECT_EQ(shape("model.layers.2.mlp.down_proj.weight"), (std::vector<int64_t>{7168, 18432}));
  EXPECT_EQ(shape("model.layers.3.mlp.gate.weight"), (std::vector<int64_t>{256, 7168}));
  EXPECT_EQ(shape("model.layers.3.mlp.gate.e_score_correction_bias"), (std::vector<int64_t>{256}));
  EXPECT_EQ(shape("model.layers.60.mlp.experts.255.up_proj.weight"), (std::vector<int64_t>{2048, 7168}));
  EXPECT_EQ(shape("model.layers.60.mlp.shared_experts.down_proj.weight"), (std::vector<int64_t>{7168, 2048}));
  EXPECT_EQ(shape("model.layers.61.eh_proj.weight"), (std::vector<int64_t>{7168, 14336}));
  EXPECT_EQ(shape("model.layers.61.shared_head.head.weight"), (std::vector<int64_t>{129280, 7168}));
  EXPECT_TRUE(find(ts, "model.layers.61.mlp.experts.0.down_proj.weight")->mtp);
  EXPECT_EQ(find(ts, "model.layers.3.mlp.gate_proj.weight"), nullptr);  // layer 3 is MoE
  EXPECT_EQ(expected_tensors(c, false).size(), ts.size() - 788);
}

TEST(TensorLayout, DeepSeekR1RecipeTotalsMatchAHandCount) {
  ModelConfig c = load_model_config(data_dir("deepseek_r1"));
  auto ts = expected_tensors(c, /*include_mtp=*/true);

  // Parameters per piece (R1 dims: hidden 7168, 128 heads, q_lora 1536, kv_lora 512, rope 64, nope 128, v 128).
  //   q_a 1536·7168 = 11,010,048   q_b (128·192)·1536 = 37,748,736   kv_a (512+64)·7168 = 4,128,768
  //   kv_b (128·256)·512 = 16,777,216   o 7168·(128·128) = 117,440,512          attention = 187,105,280
  //   norms per layer: 7168 + 7168 + 1536 + 512 = 16,384
  //   dense MLP linear 18432·7168 = 132,120,576 (×3 per dense layer)
  //   expert linear 2048·7168 = 14,680,064 (×3 per expert; 256 routed + 1 shared = 257 experts)
  //   router 256·7168 = 1,835,008 (+ 256 F32 bias)   embedding / lm_head 129280·7168 = 926,679,040
  //   MTP extras: embed + head copies, enorm/hnorm/shared_head.norm 3·7168, eh_proj 7168·14336 = 102,760,448
  const uint64_t attention = 187'105'280, norms = 16'384, dense_linear = 132'120'576, expert_linear = 14'680'064;
  const uint64_t router = 1'835'008, bias = 256, embed = 926'679'040, eh_proj = 102'760'448;
  const uint64_t moe_params = router + bias + 257 * 3 * expert_linear;
  const uint64_t params = 62 * (attention + norms)            // 61 layers + MTP block
                          + 3 * 3 * dense_linear               // layers 0..2
                          + 59 * moe_params                    // layers 3..60 + MTP block
                          + 2 * embed + 7168                   // embed, lm_head, final norm
                          + 2 * embed + 3 * 7168 + eh_proj;    // MTP extras
  uint64_t counted = 0;
  for (const auto& t : ts) counted += static_cast<uint64_t>(t.numel());
  EXPECT_EQ(counted, params);
  EXPECT_EQ(params, 684'489'845'504u);  // the "685B" of the model card

  // FP8 block (DeepSeek's release): linear bytes = N·K + 4·⌈N/128⌉·⌈K/128⌉.
  //   q_a 11,010,048 + 4·12·56   = 11,012,736    q_b 37,748,736 + 4·192·12 = 37,757,952
  //   kv_a 4,128,768 + 4·5·56    = 4,129,888     kv_b 16,777,216 + 4·256·4 = 16,781,312
  //   o 117,440,512 + 4·56·128   = 117,469,184   → attention 187,151,072 per layer
  //   dense linear 132,120,576 + 4·144·56 = 132,152,832 (down: 4·56·144, the same)
  //   expert linear 14,680,064 + 4·16·56 = 14,683,648
  //   BF16 (2 bytes): norms, router, embeddings, heads, eh_proj; the router bias F32 (4 bytes).
  const uint64_t fp8_attention = 187'151'072, fp8_dense = 132'152'832, fp8_expert = 14'683'648;
  const uint64_t fp8_moe = 2 * router + 4 * bias + 257 * 3 * fp8_expert;
  const uint64_t fp8_total = 62 * (fp8_attention + 2 * norms) + 3 * 3 * fp8_dense + 59 * fp8_moe +
                             2 * (2 * embed) + 2 * 7168 +                 // embed, lm_head, final norm
                             2 * (2 * embed) + 2 * 3 * 7168 + 2 * eh_proj;  // MTP extras
  RecipeTotals fp8 = recipe_totals(ts, Recipe::kFP8Block, c);
  EXPECT_EQ(fp8.total_bytes, fp8_total);
  EXPECT_EQ(fp8_total, 688'574'839'360u);

  // NVFP4 (DeepSeek-R1-0528-FP4): an MLP linear of layers 0..60 takes N·K/2 (codes) + N·K/16 (UE4M3
  // scales) + 4 (weight_scale_2) + 4 (input_scale) = N·K·9/16 + 8 bytes:
  //   dense 132,120,576·9/16 + 8 = 74,317,832     expert 14,680,064·9/16 + 8 = 8,257,544
  // Everything else BF16: attention 2·187,105,280 per layer, router, embeddings, lm_head, and the whole
  // MTP layer (its 257 experts are 2·3·14,680,064 bytes each).
  const uint64_t nv_dense = 74'317'832, nv_expert = 8'257'544;
  const uint64_t nv_moe = 2 * router + 4 * bias + 257 * 3 * nv_expert;
  const uint64_t mtp_bf16 = 2 * (attention + norms) + 2 * router + 4 * bias + 257 * 3 * 2 * expert_linear +
                            2 * (2 * embed) + 2 * 3 * 7168 + 2 * eh_proj;
  const uint64_t nv_total = 61 * 2 * (attention + norms) + 3 * 3 * nv_dense + 58 * nv_moe + 2 * (2 * embed) +
                            2 * 7168 + mtp_bf16;
  RecipeTotals nv = recipe_totals(ts, Recipe::kNVFP4, c);
  EXPECT_EQ(nv.total_bytes, nv_total);
  EXPECT_EQ(nv_total, 423'605'060'024u);
  // NVFP4 bytes alone: 58 MoE layers × 771 expert linears + 9 dense linears.
  EXPECT_EQ(nv.bytes_by_storage[static_cast<int>(StoredAs::kNVFP4)], 58 * 771 * nv_expert + 9 * nv_dense);

  // 688.57 GB / 423.61 GB = 1.6255: NVIDIA's "~1.6x smaller than FP8".
  double ratio = static_cast<double>(fp8_total) / static_cast<double>(nv_total);
  EXPECT_NEAR(ratio, 1.6255, 5e-5);

  RecipeTotals bf16 = recipe_totals(ts, Recipe::kBF16, c);
  EXPECT_EQ(bf16.total_bytes, 2 * params + 2 * 59 * bias);  // every weight 2 bytes, the F32 bias 4
}

TEST(TensorLayout, DenseModelsQuantizeAttentionAndMlpButNotEmbeddings) {
  ModelConfig c = load_model_config(data_dir("r1_distill_qwen_1_5b"));
  auto ts = expected_tensors(c, true);
  const ExpectedTensor* q = find(ts, "model.layers.0.self_attn.q_proj.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->shape, (std::vector<int64_t>{1536, 1536}));
  EXPECT_EQ(find(ts, "model.layers.0.self_attn.k_proj.weight")->shape, (std::vector<int64_t>{256, 1536}));
  EXPECT_EQ(find(ts, "model.layers.0.self_attn.k_proj.bias")->shape, (std::vector<int64_t>{256}));
  EXPECT_EQ(storage_under(*q, Recipe::kNVFP4, c), StoredAs::kNVFP4);
  EXPECT_EQ(storage_under(*find(ts, "model.embed_tokens.weight"), Recipe::kNVFP4, c), StoredAs::kBF16);
  EXPECT_EQ(storage_under(*find(ts, "lm_head.weight"), Recipe::kNVFP4, c), StoredAs::kBF16);
  EXPECT_EQ(storage_under(*find(ts, "model.layers.0.mlp.down_proj.weight"), Recipe::kFP8Block, c), StoredAs::kFP8Block);
  // Qwen 1.5B distill: 28·(4 + 3 + 3 + 2) + 3 = 339 tensors (q/k/v/o, 3 biases, 3 MLP, 2 norms).
  EXPECT_EQ(ts.size(), 339u);

  ModelConfig q3 = load_model_config(data_dir("r1_0528_qwen3_8b"));
  auto ts3 = expected_tensors(q3, true);
  EXPECT_EQ(find(ts3, "model.layers.0.self_attn.q_proj.weight")->shape, (std::vector<int64_t>{4096, 4096}));
  EXPECT_EQ(find(ts3, "model.layers.0.self_attn.q_norm.weight")->shape, (std::vector<int64_t>{128}));
  EXPECT_EQ(find(ts3, "model.layers.0.self_attn.q_proj.bias"), nullptr);
}

TEST(TensorLayout, DeepSeekV2LiteUsesQProjAndNoBias) {
  ModelConfig c = load_model_config(data_dir("deepseek_v2_lite"));
  auto ts = expected_tensors(c, true);
  EXPECT_EQ(find(ts, "model.layers.0.self_attn.q_proj.weight")->shape, (std::vector<int64_t>{16 * 192, 2048}));
  EXPECT_EQ(find(ts, "model.layers.0.self_attn.q_a_proj.weight"), nullptr);
  EXPECT_EQ(find(ts, "model.layers.0.mlp.gate_proj.weight")->shape, (std::vector<int64_t>{10944, 2048}));
  EXPECT_EQ(find(ts, "model.layers.1.mlp.shared_experts.up_proj.weight")->shape, (std::vector<int64_t>{2816, 2048}));
  EXPECT_EQ(find(ts, "model.layers.1.mlp.gate.e_score_correction_bias"), nullptr);  // softmax routing
  EXPECT_EQ(find(ts, "model.layers.27.input_layernorm.weight"), nullptr);           // no MTP
}

}  // namespace
}  // namespace fp4::io
