// Llama 3.x, Qwen2 and Qwen3 (the R1 distills): GQA attention with rotate-half RoPE + SiLU-gated MLP.
//   Qwen2: q/k/v biases.  Qwen3: per-head RMSNorm on q and k before RoPE, explicit head_dim.
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/model/families.h"
#include "fp4/model/forward_util.h"
#include "fp4/ops/attention.h"
#include "fp4/ops/norm.h"
#include "fp4/ops/rope.h"

namespace fp4::model {
namespace {

struct LlamaLayer {
  std::vector<float> input_norm, post_norm;  // [hidden]
  Linear q, k, v, o;
  std::vector<float> q_norm, k_norm;  // [head_dim], Qwen3 only
  GatedMlp mlp;
};

class LlamaModel final : public Model {
 public:
  LlamaModel(const std::string& dir, io::ModelConfig config, ThreadPool& pool)
      : Model(std::move(config), pool), binder_(dir) {
    const io::ModelConfig& c = config_;
    FP4_CHECK(c.hidden_act == "silu", "{}: hidden_act '{}' is not supported; supported: silu", c.source, c.hidden_act);
    FP4_CHECK(c.num_attention_heads % c.num_key_value_heads == 0,
              "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", c.source, c.num_attention_heads,
              c.num_key_value_heads);
    const int64_t hidden = c.hidden_size, H = c.num_attention_heads, G = c.num_key_value_heads, D = c.head_dim;
    embed_ = binder_.embedding("model.embed_tokens.weight", c.vocab_size, hidden);
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = fmt::format("model.layers.{}", l);
      LlamaLayer layer;
      layer.input_norm = binder_.vector(p + ".input_layernorm.weight", hidden);
      layer.post_norm = binder_.vector(p + ".post_attention_layernorm.weight", hidden);
      layer.q = binder_.linear(p + ".self_attn.q_proj", H * D, hidden, c.qkv_bias);
      layer.k = binder_.linear(p + ".self_attn.k_proj", G * D, hidden, c.qkv_bias);
      layer.v = binder_.linear(p + ".self_attn.v_proj", G * D, hidden, c.qkv_bias);
      layer.o = binder_.linear(p + ".self_attn.o_proj", hidden, H * D, c.attention_bias);
      if (c.qk_norm) {
        layer.q_norm = binder_.vector(p + ".self_attn.q_norm.weight", D);
        layer.k_norm = binder_.vector(p + ".self_attn.k_norm.weight", D);
      }
      layer.mlp = binder_.mlp(p + ".mlp", hidden, c.intermediate_size);
      layers_.push_back(std::move(layer));
    }
    final_norm_ = binder_.vector("model.norm.weight", hidden);
    lm_head_ = bind_lm_head(binder_, c, embed_);
    binder_.check_all_bound(c.num_hidden_layers);
    rope_ = rope_frequencies(rope_config(c, D));
    softmax_scale_ = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));  // HF: head_dim ** -0.5
  }

  uint64_t weight_bytes() const override {
    return binder_.bound_bytes() + static_cast<uint64_t>(embed_.rows * embed_.cols * dtype_size(embed_.dtype));
  }

  std::string describe() const override {
    return fmt::format("{}: {} layers, hidden {}, {} heads / {} kv heads × {}, vocab {}{}; {}", config_.model_type,
                       layers_.size(), config_.hidden_size, config_.num_attention_heads, config_.num_key_value_heads,
                       config_.head_dim, config_.vocab_size, config_.tie_word_embeddings ? " (tied)" : "",
                       binder_.encoding_summary());
  }

  void forward_batch(std::span<const BatchSequence> batch, const ForwardOptions& options, float* logits) override {
    forward_each(batch, options, logits, [this](std::span<const int32_t> tokens, int64_t pos0, const KvSequenceView& kv,
                                                const ForwardOptions& o, float* out) { forward_one(tokens, pos0, kv, o, out); },
                 config_.vocab_size);
  }

 private:
  void forward_one(std::span<const int32_t> tokens, int64_t pos0, const KvSequenceView& kv, const ForwardOptions& options,
               float* logits) {
    const io::ModelConfig& c = config_;
    check_forward_inputs(tokens, pos0, kv, c.vocab_size, kv_row_floats());
    const Compute cx{pool_, options.exact_matmul, {options.nvfp4_activations}};
    const int64_t T = static_cast<int64_t>(tokens.size());
    const int64_t Hd = c.hidden_size, H = c.num_attention_heads, G = c.num_key_value_heads, D = c.head_dim;
    const float eps = static_cast<float>(c.rms_norm_eps);

    std::vector<int32_t> positions(static_cast<size_t>(T));
    for (int64_t t = 0; t < T; ++t) positions[t] = static_cast<int32_t>(pos0 + t);
    std::vector<float> cos(static_cast<size_t>(T * D / 2)), sin(static_cast<size_t>(T * D / 2));  // [T, D/2]
    cpu::rope_cos_sin(rope_, positions.data(), T, cos.data(), sin.data());

    std::vector<float> x(static_cast<size_t>(T * Hd));       // [T, hidden] residual stream
    std::vector<float> normed(static_cast<size_t>(T * Hd));  // [T, hidden]
    std::vector<float> delta(static_cast<size_t>(T * Hd));   // [T, hidden]
    std::vector<float> q(static_cast<size_t>(T * H * D));    // [T, H, D]
    std::vector<float> k(static_cast<size_t>(T * G * D));    // [T, G, D]
    std::vector<float> v(static_cast<size_t>(T * G * D));    // [T, G, D]
    std::vector<float> heads(static_cast<size_t>(T * H * D));
    std::vector<float> scratch;
    for (int64_t t = 0; t < T; ++t) embed_.lookup(tokens[t], x.data() + t * Hd);
    dump_tensor(options, [] { return std::string("embed"); }, {T, Hd}, x.data());

    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const LlamaLayer& layer = layers_[l];
      cpu::rmsnorm(x.data(), layer.input_norm.data(), eps, T, Hd, normed.data());
      layer.q.apply(cx, normed.data(), T, q.data());
      layer.k.apply(cx, normed.data(), T, k.data());
      layer.v.apply(cx, normed.data(), T, v.data());
      if (c.qk_norm) {  // Qwen3: RMSNorm over each head's D values, before RoPE
        cpu::rmsnorm(q.data(), layer.q_norm.data(), eps, T * H, D, q.data());
        cpu::rmsnorm(k.data(), layer.k_norm.data(), eps, T * G, D, k.data());
      }
      cpu::apply_rope(q.data(), T, H, H * D, D, 0, D, cos.data(), sin.data(), cpu::RopeLayout::kHalf);
      cpu::apply_rope(k.data(), T, G, G * D, D, 0, D, cos.data(), sin.data(), cpu::RopeLayout::kHalf);
      // Cache row per token: [K (G·D) | V (G·D)].
      for (int64_t t = 0; t < T; ++t) {
        float* row = kv.row(l, pos0 + t);
        std::copy_n(k.data() + t * G * D, G * D, row);
        std::copy_n(v.data() + t * G * D, G * D, row + G * D);
      }
      dump_tensor(options, [&] { return fmt::format("layer.{}.attn.q", l); }, {T, H, D}, q.data());
      dump_tensor(options, [&] { return fmt::format("layer.{}.attn.k", l); }, {T, G, D}, k.data());

      cpu::KvView view;
      view.k = (*kv.layer_base)[static_cast<size_t>(l)];
      view.v = view.k + G * D;
      view.k_token_stride = view.v_token_stride = 2 * G * D;
      view.k_head_stride = view.v_head_stride = D;
      view.block_table = kv.block_table;
      view.block_size = kv.block_size;
      view.k_block_stride = view.v_block_stride = kv.block_size * 2 * G * D;
      cpu::AttentionParams ap;
      ap.num_queries = T;
      ap.num_kv = pos0 + T;
      ap.q_pos0 = pos0;
      ap.num_q_heads = H;
      ap.num_kv_heads = G;
      ap.qk_dim = D;
      ap.v_dim = D;
      ap.softmax_scale = softmax_scale_;
      ap.q_token_stride = H * D;
      ap.q_head_stride = D;
      ap.out_token_stride = H * D;
      ap.out_head_stride = D;
      cpu::attention(ap, q.data(), view, heads.data());  // [T, H, D]
      layer.o.apply(cx, heads.data(), T, delta.data());
      add_inplace(x.data(), delta.data(), T * Hd);
      dump_tensor(options, [&] { return fmt::format("layer.{}.attn_out", l); }, {T, Hd}, delta.data());

      cpu::rmsnorm(x.data(), layer.post_norm.data(), eps, T, Hd, normed.data());
      layer.mlp.apply(cx, normed.data(), T, delta.data(), scratch);
      add_inplace(x.data(), delta.data(), T * Hd);
      dump_tensor(options, [&] { return fmt::format("layer.{}.out", l); }, {T, Hd}, x.data());
    }
    final_logits(cx, x.data(), T, final_norm_, eps, lm_head_, options, logits);
  }

  WeightBinder binder_;
  Embedding embed_;
  std::vector<LlamaLayer> layers_;
  std::vector<float> final_norm_;
  Linear lm_head_;
  RopeFrequencies rope_;
  float softmax_scale_ = 0.0f;
};

}  // namespace

std::unique_ptr<Model> make_llama(const std::string& dir, io::ModelConfig config, ThreadPool& pool) {
  return std::make_unique<LlamaModel>(dir, std::move(config), pool);
}

}  // namespace fp4::model
