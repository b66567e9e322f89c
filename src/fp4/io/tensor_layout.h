// The tensors a config implies: every name and logical shape a Hugging Face checkpoint of that model
// holds (specs/deepseek_v3_arch.md §2 for DeepSeek; the transformers layouts for Llama/Qwen2/Qwen3), each
// with its role. `fp4serve inspect --config-only` counts parameters and the bytes of each storage recipe
// from this list without any weights, and loaders can check a checkpoint against it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/io/model_config.h"

namespace fp4::io {

enum class TensorRole : uint8_t {
  kEmbedding,          // embed_tokens (and the MTP layer's copy)
  kLmHead,             // lm_head (and the MTP shared_head.head)
  kNorm,               // RMSNorm weights, Qwen3 q_norm/k_norm
  kAttentionLinear,    // q/k/v/o, MLA q_a/q_b/kv_a/kv_b/o
  kAttentionBias,      // Qwen2 q/k/v biases
  kDenseMlpLinear,     // gate/up/down of a dense MLP
  kSharedExpertLinear, // DeepSeek shared experts
  kRoutedExpertLinear, // DeepSeek routed experts
  kRouter,             // mlp.gate.weight
  kRouterBias,         // mlp.gate.e_score_correction_bias (F32)
  kMtpProjection,      // MTP eh_proj
};
std::string_view tensor_role_name(TensorRole r);

struct ExpectedTensor {
  std::string name;            // "model.layers.3.mlp.experts.0.up_proj.weight"
  std::vector<int64_t> shape;  // logical shape ([out, in] for linears)
  TensorRole role = TensorRole::kNorm;
  int64_t layer = -1;          // decoder layer, -1 for global tensors
  bool mtp = false;            // part of a DeepSeek multi-token-prediction layer

  int64_t numel() const;
  bool is_linear() const;      // a weight bound by bind_linear (router and heads included)
  std::string module() const;  // name without ".weight" for linears
};

// Every tensor of the model in checkpoint order (embeddings, layers, final norm, head, then MTP layers).
// `include_mtp` adds DeepSeek's num_nextn_predict_layers layers stored after the main ones.
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config, bool include_mtp);

// Whole-model storage recipes whose size `fp4serve inspect` reports.
enum class Recipe : uint8_t {
  kBF16,      // every weight BF16 (the router bias stays F32)
  kFP8Block,  // DeepSeek's release: every decoder-block linear (attention, MLPs, experts, MTP block
              // included) FP8 E4M3 + F32 scale per 128×128 block; embeddings, heads, router, norms, eh_proj BF16
  kNVFP4,     // ModelOpt NVFP4 as in DeepSeek-R1-0528-FP4: for DeepSeek, the dense and expert MLP linears of
              // the main layers NVFP4 (packed E2M1 + UE4M3 per 16 + F32 weight_scale_2 + F32 input_scale);
              // attention, router, embeddings, lm_head and the whole MTP layer BF16. For Llama/Qwen: every
              // decoder linear NVFP4, embeddings and lm_head BF16 (ModelOpt's default exclusions).
};
std::string_view recipe_name(Recipe r);

// How one tensor is stored under a recipe.
enum class StoredAs : uint8_t { kBF16, kF32, kFP8Block, kNVFP4 };
std::string_view stored_as_name(StoredAs s);
StoredAs storage_under(const ExpectedTensor& t, Recipe recipe, const ModelConfig& config);

// Bytes of one tensor stored as `s`, scales included:
//   BF16 2·n; F32 4·n; FP8 block N·K + 4·⌈N/128⌉·⌈K/128⌉; NVFP4 N·K/2 + N·K/16 + 4 + 4.
uint64_t stored_bytes(const ExpectedTensor& t, StoredAs s);

struct RecipeTotals {
  uint64_t total_bytes = 0;
  uint64_t bytes_by_storage[4] = {0, 0, 0, 0};   // indexed by StoredAs
  uint64_t params_by_storage[4] = {0, 0, 0, 0};  // logical parameters
};
RecipeTotals recipe_totals(const std::vector<ExpectedTensor>& tensors, Recipe recipe, const ModelConfig& config);

}  // namespace fp4::io
