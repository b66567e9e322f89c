// config.json → a typed ModelConfig for the architectures fp4serve runs: deepseek_v3 (V3, R1, R1-0528),
// deepseek_v2 (V2, V2-Lite), llama (Llama 3.x, R1-Distill-Llama), qwen2 (R1-Distill-Qwen) and qwen3
// (R1-0528-Qwen3-8B). Any other model_type is rejected naming the value and the accepted ones.
// Defaults for absent fields follow the transformers configuration classes of each family.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::io {

enum class Architecture : uint8_t { kDeepseekV3, kDeepseekV2, kLlama, kQwen2, kQwen3 };

// The config.json model_type string ("deepseek_v3", ...).
std::string_view architecture_name(Architecture a);
// "deepseek_v3, deepseek_v2, llama, qwen2, qwen3": for error messages and help text.
std::string_view accepted_model_types();

struct RopeScaling {
  enum class Type : uint8_t { kNone, kLinear, kDynamic, kYarn, kLlama3 };
  Type type = Type::kNone;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  // YaRN (DeepSeek, Qwen3)
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;          // DeepSeek-style mscale / mscale_all_dim (0 when absent)
  double mscale_all_dim = 0.0;
  std::optional<double> attention_factor;  // HF reads `attention_factor` only (not `attn_factor`)
  std::optional<double> attn_factor;       // kept to report the vLLM/HF difference (arch spec §8)
  // Llama 3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
};
std::string_view rope_type_name(RopeScaling::Type t);

// Multi-head latent attention (DeepSeek V2/V3).
struct MlaConfig {
  int64_t q_lora_rank = 0;  // 0: no query compression (V2-Lite): q_proj [heads·qk_head_dim, hidden]
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
};

// DeepSeek mixture of experts.
struct MoeConfig {
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  double routed_scaling_factor = 1.0;
  bool norm_topk_prob = false;
  std::string scoring_func;  // "sigmoid" (V3) or "softmax" (V2)
  std::string topk_method;   // "noaux_tc" (V3), "greedy" / "group_limited_greedy" (V2)
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t moe_intermediate_size = 0;
};

struct ModelConfig {
  std::string source;  // file the config came from (for messages)
  Architecture arch = Architecture::kLlama;
  std::string model_type;
  std::vector<std::string> architectures;

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // dense MLP width
  int64_t num_hidden_layers = 0;  // main decoder layers (MTP layers not included)
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // GQA head width; for MLA this is qk_rope_head_dim as HF defines it
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool rope_interleave = false;  // DeepSeek: pairs (2i, 2i+1); others rotate halves
  bool tie_word_embeddings = false;
  bool attention_bias = false;   // bias on q/k/v/o (llama option)
  bool qkv_bias = false;         // bias on q/k/v only (qwen2)
  bool qk_norm = false;          // per-head RMSNorm on q and k (qwen3)
  std::string hidden_act = "silu";
  std::string torch_dtype;
  int64_t num_nextn_predict_layers = 0;  // DeepSeek MTP layers stored after the main ones

  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;

  std::optional<MlaConfig> mla;  // deepseek_v2 / deepseek_v3
  std::optional<MoeConfig> moe;  // deepseek_v2 / deepseek_v3

  bool is_deepseek() const { return arch == Architecture::kDeepseekV3 || arch == Architecture::kDeepseekV2; }
  // True when decoder layer `layer` has a routed-expert MLP (DeepSeek rule: layer ≥ first_k_dense_replace
  // and layer % moe_layer_freq == 0).
  bool is_moe_layer(int64_t layer) const;
  // Elements the KV cache holds per token per layer: MLA latent kv_lora_rank + qk_rope_head_dim;
  // GQA 2 × num_key_value_heads × head_dim.
  int64_t kv_cache_elements_per_token_per_layer() const;
};

// Parses config.json text. `source` names it in messages ("DIR/config.json"). Throws fp4::Error with one
// line naming the field and what was expected: missing required field, wrong JSON type, out-of-range
// value, inconsistent dimensions (hidden_size not divisible by heads, ...), unknown model_type.
ModelConfig parse_model_config(std::string_view json_text, std::string_view source);

// Reads DIR/config.json (or the given .json file path).
ModelConfig load_model_config(const std::string& dir_or_file);

}  // namespace fp4::io
