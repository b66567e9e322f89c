// config.json parsing for every supported family (real configs in tests/data) and the errors for bad ones.
#include <gtest/gtest.h>

#include "fp4/io/generation_config.h"
#include "fp4/io/model_config.h"
#include "unit/io/io_test_util.h"

namespace fp4::io {
namespace {

using test::expect_error;

std::string data_dir(const std::string& name) { return std::string(FP4_SOURCE_DIR) + "/tests/data/" + name; }

TEST(ModelConfig, DeepSeekR1) {
  ModelConfig c = load_model_config(data_dir("deepseek_r1"));
  EXPECT_EQ(c.arch, Architecture::kDeepseekV3);
  EXPECT_EQ(c.architectures, (std::vector<std::string>{"DeepseekV3ForCausalLM"}));
  EXPECT_EQ(c.hidden_size, 7168);
  EXPECT_EQ(c.num_hidden_layers, 61);
  EXPECT_EQ(c.num_attention_heads, 128);
  EXPECT_EQ(c.vocab_size, 129280);
  EXPECT_EQ(c.intermediate_size, 18432);
  ASSERT_TRUE(c.mla.has_value());
  EXPECT_EQ(c.mla->q_lora_rank, 1536);
  EXPECT_EQ(c.mla->kv_lora_rank, 512);
  EXPECT_EQ(c.mla->qk_head_dim(), 192);
  EXPECT_EQ(c.mla->v_head_dim, 128);
  EXPECT_EQ(c.head_dim, 64);  // HF: head_dim = qk_rope_head_dim
  ASSERT_TRUE(c.moe.has_value());
  EXPECT_EQ(c.moe->n_routed_experts, 256);
  EXPECT_EQ(c.moe->n_shared_experts, 1);
  EXPECT_EQ(c.moe->num_experts_per_tok, 8);
  EXPECT_EQ(c.moe->n_group, 8);
  EXPECT_EQ(c.moe->topk_group, 4);
  EXPECT_DOUBLE_EQ(c.moe->routed_scaling_factor, 2.5);
  EXPECT_TRUE(c.moe->norm_topk_prob);
  EXPECT_EQ(c.moe->scoring_func, "sigmoid");
  EXPECT_EQ(c.moe->topk_method, "noaux_tc");
  EXPECT_EQ(c.moe->first_k_dense_replace, 3);
  EXPECT_EQ(c.moe->moe_intermediate_size, 2048);
  EXPECT_EQ(c.num_nextn_predict_layers, 1);
  EXPECT_TRUE(c.rope_interleave);  // absent → HF default true
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kYarn);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 40.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale_all_dim, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.max_position_embeddings, 163840);
  EXPECT_EQ(c.bos_token_id, 0);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1}));
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.is_moe_layer(2));
  EXPECT_TRUE(c.is_moe_layer(3));
  EXPECT_TRUE(c.is_moe_layer(60));
  // MLA latent cache: 512 + 64 values per token per layer.
  EXPECT_EQ(c.kv_cache_elements_per_token_per_layer(), 576);
}

TEST(ModelConfig, DeepSeekV2LiteHasNoQueryCompression) {
  ModelConfig c = load_model_config(data_dir("deepseek_v2_lite"));
  EXPECT_EQ(c.arch, Architecture::kDeepseekV2);
  EXPECT_EQ(c.mla->q_lora_rank, 0);  // "q_lora_rank": null
  EXPECT_EQ(c.moe->scoring_func, "softmax");
  EXPECT_EQ(c.moe->topk_method, "greedy");
  EXPECT_EQ(c.moe->n_routed_experts, 64);
  EXPECT_EQ(c.moe->n_shared_experts, 2);
  EXPECT_EQ(c.moe->num_experts_per_tok, 6);
  EXPECT_EQ(c.moe->first_k_dense_replace, 1);
  EXPECT_FALSE(c.moe->norm_topk_prob);
  EXPECT_DOUBLE_EQ(c.rope_scaling.mscale, 0.707);
  EXPECT_EQ(c.num_nextn_predict_layers, 0);
}

TEST(ModelConfig, DeepSeekAbsentQLoraRankTakesTheHfDefault) {
  ModelConfig c = parse_model_config(
      R"({"model_type":"deepseek_v3","vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
          "num_attention_heads":4,"kv_lora_rank":16,"qk_nope_head_dim":8,"qk_rope_head_dim":4,"v_head_dim":8})",
      "mem");
  EXPECT_EQ(c.mla->q_lora_rank, 1536);
  EXPECT_FALSE(c.moe.has_value());  // no n_routed_experts: every layer dense
  EXPECT_FALSE(c.is_moe_layer(1));
}

TEST(ModelConfig, LlamaDistill) {
  ModelConfig c = load_model_config(data_dir("r1_distill_llama_8b"));
  EXPECT_EQ(c.arch, Architecture::kLlama);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_DOUBLE_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c.rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_FALSE(c.rope_interleave);
  EXPECT_FALSE(c.mla.has_value());
  EXPECT_EQ(c.kv_cache_elements_per_token_per_layer(), 2 * 8 * 128);
}

TEST(ModelConfig, Qwen2Distill) {
  ModelConfig c = load_model_config(data_dir("r1_distill_qwen_1_5b"));
  EXPECT_EQ(c.arch, Architecture::kQwen2);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.qk_norm);
  EXPECT_EQ(c.head_dim, 128);  // 1536 / 12
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kNone);
}

TEST(ModelConfig, Qwen3KeepsBothYarnFactors) {
  ModelConfig c = load_model_config(data_dir("r1_0528_qwen3_8b"));
  EXPECT_EQ(c.arch, Architecture::kQwen3);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rope_scaling.type, RopeScaling::Type::kYarn);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 32768);
  EXPECT_FALSE(c.rope_scaling.attention_factor.has_value());  // HF reads only attention_factor
  ASSERT_TRUE(c.rope_scaling.attn_factor.has_value());
  EXPECT_DOUBLE_EQ(*c.rope_scaling.attn_factor, 0.8782488562869419);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{151645}));
}

TEST(ModelConfig, UnknownArchitectureNamesValueAndAcceptedOnes) {
  expect_error([] { parse_model_config(R"({"model_type":"mistral","hidden_size":8})", "cfg.json"); },
               {"cfg.json", "model_type 'mistral' is not supported", "deepseek_v3, deepseek_v2, llama, qwen2, qwen3"});
  expect_error([] { parse_model_config(R"({"hidden_size":8})", "cfg.json"); }, {"missing \"model_type\""});
}

TEST(ModelConfig, BadFieldsAreNamed) {
  const std::string base =
      R"("model_type":"llama","vocab_size":100,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4)";
  auto cfg = [&](const std::string& extra) { return "{" + base + "," + extra + "}"; };
  EXPECT_EQ(parse_model_config(cfg(R"("hidden_size":64)"), "c").head_dim, 16);
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":"64")"), "c"); }, {"\"hidden_size\" is \"64\", expected an integer"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":0)"), "c"); }, {"\"hidden_size\" is 0, expected 1..1048576"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":66)"), "c"); },
               {"hidden_size 66 is not divisible by num_attention_heads 4"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":64,"num_key_value_heads":3)"), "c"); },
               {"num_attention_heads 4 is not a multiple of num_key_value_heads 3"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":64,"rms_norm_eps":-1)"), "c"); },
               {"\"rms_norm_eps\" is -1, expected a positive number"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":64,"hidden_act":"gelu")"), "c"); },
               {"hidden_act 'gelu' is not supported"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":64,"rope_scaling":{"rope_type":"longrope","factor":2})"), "c"); },
               {"rope type 'longrope' is not supported"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":64,"rope_scaling":{"rope_type":"yarn"})"), "c"); },
               {"rope type 'yarn' needs \"factor\""});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":64,"rope_scaling":{"rope_type":"llama3","factor":8})"), "c"); },
               {"llama3 rope needs"});
  expect_error([&] { parse_model_config(cfg(R"("hidden_size":64,"eos_token_id":[1,"x"])"), "c"); },
               {"\"eos_token_id\" holds \"x\", expected integers"});
  expect_error([&] { parse_model_config("{" + base + "}", "c"); }, {"missing required integer \"hidden_size\""});
  expect_error([&] { parse_model_config("[1]", "c"); }, {"expected a JSON object, got a array"});
  expect_error([&] { parse_model_config("{", "c"); }, {"c: not valid JSON"});
}

TEST(ModelConfig, MoeConsistencyChecks) {
  const std::string base =
      R"("model_type":"deepseek_v3","vocab_size":100,"hidden_size":64,"intermediate_size":128,"num_hidden_layers":4,
         "num_attention_heads":4,"q_lora_rank":32,"kv_lora_rank":16,"qk_nope_head_dim":8,"qk_rope_head_dim":4,
         "v_head_dim":8,"moe_intermediate_size":16)";
  auto cfg = [&](const std::string& extra) { return "{" + base + "," + extra + "}"; };
  EXPECT_TRUE(parse_model_config(cfg(R"("n_routed_experts":8,"n_group":2,"topk_group":1,"num_experts_per_tok":2)"), "c")
                  .moe.has_value());
  expect_error([&] { parse_model_config(cfg(R"("n_routed_experts":8,"n_group":3,"num_experts_per_tok":2)"), "c"); },
               {"n_routed_experts 8 is not divisible by n_group 3"});
  expect_error([&] { parse_model_config(cfg(R"("n_routed_experts":8,"num_experts_per_tok":9)"), "c"); },
               {"\"num_experts_per_tok\" is 9, expected 1..8"});
  expect_error([&] { parse_model_config(cfg(R"("n_routed_experts":8,"num_experts_per_tok":2,"scoring_func":"relu")"), "c"); },
               {"scoring_func 'relu' is not supported"});
  expect_error([&] { parse_model_config(cfg(R"("n_routed_experts":8,"num_experts_per_tok":2,"first_k_dense_replace":9)"), "c"); },
               {"\"first_k_dense_replace\" is 9, expected 0..4"});
}

TEST(GenerationConfig, ParsesAndValidates) {
  GenerationConfig g = parse_generation_config(
      R"({"bos_token_id":0,"eos_token_id":[1,2],"do_sample":true,"temperature":0.6,"top_p":0.95,"top_k":20})", "g");
  EXPECT_EQ(g.bos_token_id, 0);
  EXPECT_EQ(g.eos_token_ids, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(g.do_sample, true);
  EXPECT_DOUBLE_EQ(*g.temperature, 0.6);
  EXPECT_DOUBLE_EQ(*g.top_p, 0.95);
  EXPECT_EQ(g.top_k, 20);
  EXPECT_FALSE(g.max_new_tokens.has_value());
  expect_error([] { parse_generation_config(R"({"top_p":1.5})", "g"); }, {"\"top_p\" is 1.5, expected a value in (0, 1]"});
  expect_error([] { parse_generation_config(R"({"temperature":-1})", "g"); }, {"\"temperature\" is -1, expected >= 0"});
  expect_error([] { parse_generation_config(R"({"do_sample":"yes"})", "g"); }, {"\"do_sample\" is \"yes\", expected true or false"});
  test::TempDir dir;
  EXPECT_FALSE(load_generation_config(dir.path()).temperature.has_value());  // no file: empty config
}

}  // namespace
}  // namespace fp4::io
