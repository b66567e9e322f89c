#include "fp4/model/family_weights.h"

#include <fmt/format.h>

#include <string>

#include "fp4/base/error.h"
#include "fp4/model/families.h"

namespace fp4::model {

FamilyWeights<LlamaLayerWeights> bind_llama(WeightBinder& binder, const io::ModelConfig& c) {
  FP4_CHECK(c.hidden_act == "silu", "{}: hidden_act '{}' is not supported; supported: silu", c.source, c.hidden_act);
  FP4_CHECK(c.num_attention_heads % c.num_key_value_heads == 0,
            "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", c.source, c.num_attention_heads,
            c.num_key_value_heads);
  const int64_t hidden = c.hidden_size, H = c.num_attention_heads, G = c.num_key_value_heads, D = c.head_dim;
  FamilyWeights<LlamaLayerWeights> w;
  w.embed = binder.embedding("model.embed_tokens.weight", c.vocab_size, hidden);
  w.layers.reserve(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}", l);
    LlamaLayerWeights layer;
    layer.input_norm = binder.vector(p + ".input_layernorm.weight", hidden);
    layer.post_norm = binder.vector(p + ".post_attention_layernorm.weight", hidden);
    layer.q = binder.linear(p + ".self_attn.q_proj", H * D, hidden, c.qkv_bias);
    layer.k = binder.linear(p + ".self_attn.k_proj", G * D, hidden, c.qkv_bias);
    layer.v = binder.linear(p + ".self_attn.v_proj", G * D, hidden, c.qkv_bias);
    layer.o = binder.linear(p + ".self_attn.o_proj", hidden, H * D, c.attention_bias);
    if (c.qk_norm) {
      layer.q_norm = binder.vector(p + ".self_attn.q_norm.weight", D);
      layer.k_norm = binder.vector(p + ".self_attn.k_norm.weight", D);
    }
    layer.mlp = binder.mlp(p + ".mlp", hidden, c.intermediate_size);
    w.layers.push_back(std::move(layer));
  }
  w.final_norm = binder.vector("model.norm.weight", hidden);
  w.lm_head = bind_lm_head(binder, c, w.embed);
  binder.check_all_bound(c.num_hidden_layers);
  return w;
}

FamilyWeights<DeepseekLayerWeights> bind_deepseek(WeightBinder& binder, const io::ModelConfig& c) {
  FP4_CHECK(c.mla.has_value(), "{}: DeepSeek config has no MLA dimensions", c.source);
  FP4_CHECK(c.hidden_act == "silu", "{}: hidden_act '{}' is not supported; supported: silu", c.source, c.hidden_act);
  if (c.moe) {
    const io::MoeConfig& m = *c.moe;
    FP4_CHECK(m.topk_group * (m.n_routed_experts / m.n_group) >= m.num_experts_per_tok || m.n_group == 1,
              "{}: topk_group {} of n_group {} keeps fewer experts than num_experts_per_tok {}", c.source,
              m.topk_group, m.n_group, m.num_experts_per_tok);
    FP4_CHECK(m.topk_method != "noaux_tc" || m.n_routed_experts / m.n_group >= 2 || m.n_group == 1,
              "{}: noaux_tc routing needs at least 2 experts per group", c.source);
  }
  const int64_t hidden = c.hidden_size;
  FamilyWeights<DeepseekLayerWeights> w;
  w.embed = binder.embedding("model.embed_tokens.weight", c.vocab_size, hidden);
  w.layers.reserve(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}", l);
    DeepseekLayerWeights layer;
    layer.input_norm = binder.vector(p + ".input_layernorm.weight", hidden);
    layer.post_norm = binder.vector(p + ".post_attention_layernorm.weight", hidden);
    layer.attn = MlaWeights::bind(binder, c, l);
    if (c.is_moe_layer(l)) {
      layer.moe = MoeWeights::bind(binder, c, l);
    } else {
      layer.dense = binder.mlp(p + ".mlp", hidden, c.intermediate_size);
    }
    w.layers.push_back(std::move(layer));
  }
  w.final_norm = binder.vector("model.norm.weight", hidden);
  w.lm_head = bind_lm_head(binder, c, w.embed);
  binder.check_all_bound(c.num_hidden_layers);
  return w;
}

cpu::RopeLayout deepseek_rope_layout(const io::ModelConfig& c) {
  if (c.arch == io::Architecture::kDeepseekV2) return cpu::RopeLayout::kInterleavedPairs;
  return c.rope_interleave ? cpu::RopeLayout::kInterleaved : cpu::RopeLayout::kHalf;
}

}  // namespace fp4::model
