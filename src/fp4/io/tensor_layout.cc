#include "fp4/io/tensor_layout.h"

#include <fmt/format.h>

#include "fp4/base/error.h"

namespace fp4::io {
namespace {

// Appends the tensors of one decoder layer. `mtp` marks a DeepSeek MTP layer (same block as an MoE layer).
class LayoutBuilder {
 public:
  LayoutBuilder(const ModelConfig& c, std::vector<ExpectedTensor>& out) : c_(c), out_(out) {}

  void add(std::string name, std::vector<int64_t> shape, TensorRole role) {
    out_.push_back(ExpectedTensor{std::move(name), std::move(shape), role, layer_, mtp_});
  }

  void begin_layer(int64_t layer, bool mtp) {
    layer_ = layer;
    mtp_ = mtp;
    prefix_ = fmt::format("model.layers.{}.", layer);
  }
  void end_layer() {
    layer_ = -1;
    mtp_ = false;
    prefix_ = "model.";
  }

  void norms() {
    add(prefix_ + "input_layernorm.weight", {c_.hidden_size}, TensorRole::kNorm);
    add(prefix_ + "post_attention_layernorm.weight", {c_.hidden_size}, TensorRole::kNorm);
  }

  void mla_attention() {
    const MlaConfig& m = *c_.mla;
    const int64_t h = c_.hidden_size, heads = c_.num_attention_heads;
    const std::string a = prefix_ + "self_attn.";
    if (m.q_lora_rank > 0) {
      add(a + "q_a_proj.weight", {m.q_lora_rank, h}, TensorRole::kAttentionLinear);
      add(a + "q_a_layernorm.weight", {m.q_lora_rank}, TensorRole::kNorm);
      add(a + "q_b_proj.weight", {heads * m.qk_head_dim(), m.q_lora_rank}, TensorRole::kAttentionLinear);
    } else {
      add(a + "q_proj.weight", {heads * m.qk_head_dim(), h}, TensorRole::kAttentionLinear);
    }
    add(a + "kv_a_proj_with_mqa.weight", {m.kv_lora_rank + m.qk_rope_head_dim, h}, TensorRole::kAttentionLinear);
    add(a + "kv_a_layernorm.weight", {m.kv_lora_rank}, TensorRole::kNorm);
    add(a + "kv_b_proj.weight", {heads * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank},
        TensorRole::kAttentionLinear);
    add(a + "o_proj.weight", {h, heads * m.v_head_dim}, TensorRole::kAttentionLinear);
  }

  void gqa_attention() {
    const int64_t h = c_.hidden_size, q = c_.num_attention_heads * c_.head_dim,
                  kv = c_.num_key_value_heads * c_.head_dim;
    const std::string a = prefix_ + "self_attn.";
    add(a + "q_proj.weight", {q, h}, TensorRole::kAttentionLinear);
    add(a + "k_proj.weight", {kv, h}, TensorRole::kAttentionLinear);
    add(a + "v_proj.weight", {kv, h}, TensorRole::kAttentionLinear);
    add(a + "o_proj.weight", {h, q}, TensorRole::kAttentionLinear);
    if (c_.qkv_bias) {
      add(a + "q_proj.bias", {q}, TensorRole::kAttentionBias);
      add(a + "k_proj.bias", {kv}, TensorRole::kAttentionBias);
      add(a + "v_proj.bias", {kv}, TensorRole::kAttentionBias);
    }
    if (c_.attention_bias) add(a + "o_proj.bias", {h}, TensorRole::kAttentionBias);
    if (c_.qk_norm) {
      add(a + "q_norm.weight", {c_.head_dim}, TensorRole::kNorm);
      add(a + "k_norm.weight", {c_.head_dim}, TensorRole::kNorm);
    }
  }

  void mlp(const std::string& p, int64_t inter, TensorRole role) {
    add(p + "gate_proj.weight", {inter, c_.hidden_size}, role);
    add(p + "up_proj.weight", {inter, c_.hidden_size}, role);
    add(p + "down_proj.weight", {c_.hidden_size, inter}, role);
  }

  void moe() {
    const MoeConfig& m = *c_.moe;
    const std::string p = prefix_ + "mlp.";
    add(p + "gate.weight", {m.n_routed_experts, c_.hidden_size}, TensorRole::kRouter);
    if (m.topk_method == "noaux_tc") add(p + "gate.e_score_correction_bias", {m.n_routed_experts}, TensorRole::kRouterBias);
    for (int64_t e = 0; e < m.n_routed_experts; ++e) {
      mlp(fmt::format("{}experts.{}.", p, e), m.moe_intermediate_size, TensorRole::kRoutedExpertLinear);
    }
    if (m.n_shared_experts > 0) {
      mlp(p + "shared_experts.", m.moe_intermediate_size * m.n_shared_experts, TensorRole::kSharedExpertLinear);
    }
  }

  void mtp_extras() {
    const int64_t h = c_.hidden_size;
    add(prefix_ + "embed_tokens.weight", {c_.vocab_size, h}, TensorRole::kEmbedding);
    add(prefix_ + "enorm.weight", {h}, TensorRole::kNorm);
    add(prefix_ + "hnorm.weight", {h}, TensorRole::kNorm);
    add(prefix_ + "eh_proj.weight", {h, 2 * h}, TensorRole::kMtpProjection);
    add(prefix_ + "shared_head.norm.weight", {h}, TensorRole::kNorm);
    add(prefix_ + "shared_head.head.weight", {c_.vocab_size, h}, TensorRole::kLmHead);
  }

  void decoder_layer(int64_t layer, bool mtp) {
    begin_layer(layer, mtp);
    norms();
    if (c_.mla) {
      mla_attention();
    } else {
      gqa_attention();
    }
    // MTP layers reuse the MoE block (arch spec §2); a dense-only DeepSeek config gives them a dense MLP.
    if (c_.is_moe_layer(layer) || (mtp && c_.moe)) {
      moe();
    } else {
      mlp(prefix_ + "mlp.", c_.intermediate_size, TensorRole::kDenseMlpLinear);
    }
    if (mtp) mtp_extras();
    end_layer();
  }

 private:
  const ModelConfig& c_;
  std::vector<ExpectedTensor>& out_;
  int64_t layer_ = -1;
  bool mtp_ = false;
  std::string prefix_ = "model.";
};

bool is_decoder_linear(TensorRole r) {
  return r == TensorRole::kAttentionLinear || r == TensorRole::kDenseMlpLinear || r == TensorRole::kSharedExpertLinear ||
         r == TensorRole::kRoutedExpertLinear;
}
bool is_mlp_linear(TensorRole r) {
  return r == TensorRole::kDenseMlpLinear || r == TensorRole::kSharedExpertLinear ||
         r == TensorRole::kRoutedExpertLinear;
}

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

std::string_view tensor_role_name(TensorRole r) {
  switch (r) {
    case TensorRole::kEmbedding: return "embedding";
    case TensorRole::kLmHead: return "lm_head";
    case TensorRole::kNorm: return "norm";
    case TensorRole::kAttentionLinear: return "attention";
    case TensorRole::kAttentionBias: return "attention-bias";
    case TensorRole::kDenseMlpLinear: return "dense-mlp";
    case TensorRole::kSharedExpertLinear: return "shared-expert";
    case TensorRole::kRoutedExpertLinear: return "routed-expert";
    case TensorRole::kRouter: return "router";
    case TensorRole::kRouterBias: return "router-bias";
    case TensorRole::kMtpProjection: return "mtp-projection";
  }
  return "?";
}

int64_t ExpectedTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // config bounds keep this far below 2^63
  return n;
}

bool ExpectedTensor::is_linear() const {
  return shape.size() == 2 && role != TensorRole::kEmbedding;
}

std::string ExpectedTensor::module() const {
  const std::string_view suffix = ".weight";
  return name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size()) : name;
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c, bool include_mtp) {
  std::vector<ExpectedTensor> out;
  LayoutBuilder b(c, out);
  b.add("model.embed_tokens.weight", {c.vocab_size, c.hidden_size}, TensorRole::kEmbedding);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) b.decoder_layer(l, false);
  b.add("model.norm.weight", {c.hidden_size}, TensorRole::kNorm);
  if (!c.tie_word_embeddings) b.add("lm_head.weight", {c.vocab_size, c.hidden_size}, TensorRole::kLmHead);
  if (include_mtp && c.is_deepseek()) {
    for (int64_t k = 0; k < c.num_nextn_predict_layers; ++k) b.decoder_layer(c.num_hidden_layers + k, true);
  }
  return out;
}

std::string_view recipe_name(Recipe r) {
  switch (r) {
    case Recipe::kBF16: return "bf16";
    case Recipe::kFP8Block: return "fp8-block";
    case Recipe::kNVFP4: return "nvfp4";
  }
  return "?";
}

std::string_view stored_as_name(StoredAs s) {
  switch (s) {
    case StoredAs::kBF16: return "bf16";
    case StoredAs::kF32: return "f32";
    case StoredAs::kFP8Block: return "fp8-block";
    case StoredAs::kNVFP4: return "nvfp4";
  }
  return "?";
}

StoredAs storage_under(const ExpectedTensor& t, Recipe recipe, const ModelConfig& config) {
  if (t.role == TensorRole::kRouterBias) return StoredAs::kF32;
  switch (recipe) {
    case Recipe::kBF16: return StoredAs::kBF16;
    case Recipe::kFP8Block: return is_decoder_linear(t.role) ? StoredAs::kFP8Block : StoredAs::kBF16;
    case Recipe::kNVFP4: {
      // ModelOpt needs whole 16-element blocks along the input dimension.
      bool fits = t.shape.size() == 2 && t.shape[1] % 16 == 0;
      bool quantized = config.is_deepseek() ? (is_mlp_linear(t.role) && !t.mtp) : is_decoder_linear(t.role);
      return quantized && fits ? StoredAs::kNVFP4 : StoredAs::kBF16;
    }
  }
  return StoredAs::kBF16;
}

uint64_t stored_bytes(const ExpectedTensor& t, StoredAs s) {
  const uint64_t n = static_cast<uint64_t>(t.numel());
  switch (s) {
    case StoredAs::kBF16: return 2 * n;
    case StoredAs::kF32: return 4 * n;
    case StoredAs::kFP8Block: {
      FP4_CHECK(t.shape.size() == 2, "tensor '{}': FP8 block storage needs a 2-D weight", t.name);
      uint64_t rows = static_cast<uint64_t>(t.shape[0]), cols = static_cast<uint64_t>(t.shape[1]);
      return n + 4 * ceil_div(rows, 128) * ceil_div(cols, 128);
    }
    case StoredAs::kNVFP4: {
      FP4_CHECK(t.shape.size() == 2 && t.shape[1] % 16 == 0, "tensor '{}': NVFP4 storage needs K divisible by 16",
                t.name);
      return n / 2 + n / 16 + 4 + 4;  // packed codes, UE4M3 block scales, weight_scale_2, input_scale
    }
  }
  return 0;
}

RecipeTotals recipe_totals(const std::vector<ExpectedTensor>& tensors, Recipe recipe, const ModelConfig& config) {
  RecipeTotals totals;
  for (const auto& t : tensors) {
    StoredAs s = storage_under(t, recipe, config);
    uint64_t bytes = stored_bytes(t, s);
    totals.total_bytes += bytes;
    totals.bytes_by_storage[static_cast<int>(s)] += bytes;
    totals.params_by_storage[static_cast<int>(s)] += static_cast<uint64_t>(t.numel());
  }
  return totals;
}

}  // namespace fp4::io
