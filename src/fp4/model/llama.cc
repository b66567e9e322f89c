// Llama 3.x, Qwen2 and Qwen3 (the R1 distills): GQA attention with rotate-half RoPE + SiLU-gated MLP.
//   Qwen2: q/k/v biases.  Qwen3: per-head RMSNorm on q and k before RoPE, explicit head_dim.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/model/families.h"
#include "fp4/model/family_weights.h"
#include "fp4/model/forward_util.h"
#include "fp4/ops/attention.h"
#include "fp4/ops/norm.h"
#include "fp4/ops/rope.h"

namespace fp4::model {
namespace {

using LlamaLayer = LlamaLayerWeights;

class LlamaModel final : public Model {
 public:
  LlamaModel(const std::string& dir, io::ModelConfig config, ThreadPool& pool)
      : Model(std::move(config), pool), binder_(dir) {
    const io::ModelConfig& c = config_;
    FamilyWeights<LlamaLayerWeights> w = bind_llama(binder_, c);
    embed_ = w.embed;
    layers_ = std::move(w.layers);
    final_norm_ = std::move(w.final_norm);
    lm_head_ = std::move(w.lm_head);
    const int64_t D = c.head_dim;
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

  // Every linear runs once over the batch's N rows; attention and the cache writes per sequence.
  void forward_batch(std::span<const BatchSequence> batch, const ForwardOptions& options, float* logits) override {
    const io::ModelConfig& c = config_;
    const BatchRows rows = plan_batch(batch, options, c.vocab_size, kv_row_floats());
    if (rows.n == 0) return;
    const Compute cx{pool_, options.exact_matmul, {options.nvfp4_activations}, options.observe_linear_inputs};
    const int64_t N = rows.n;
    const int64_t Hd = c.hidden_size, H = c.num_attention_heads, G = c.num_key_value_heads, D = c.head_dim;
    const float eps = static_cast<float>(c.rms_norm_eps);

    // RoPE tables for each row's own position: [N, D/2].
    std::vector<float> cos(static_cast<size_t>(N * D / 2)), sin(static_cast<size_t>(N * D / 2));
    cpu::rope_cos_sin(rope_, rows.positions.data(), N, cos.data(), sin.data());

    std::vector<float> x(static_cast<size_t>(N * Hd));       // [N, hidden] residual stream
    std::vector<float> normed(static_cast<size_t>(N * Hd));  // [N, hidden]
    std::vector<float> delta(static_cast<size_t>(N * Hd));   // [N, hidden]
    std::vector<float> q(static_cast<size_t>(N * H * D));    // [N, H, D]
    std::vector<float> k(static_cast<size_t>(N * G * D));    // [N, G, D]
    std::vector<float> v(static_cast<size_t>(N * G * D));    // [N, G, D]
    std::vector<float> heads(static_cast<size_t>(N * H * D));  // [N, H, D] attention output
    std::vector<float> scratch;
    embed_batch(embed_, batch, x.data());
    dump_tensor(options, [] { return std::string("embed"); }, {N, Hd}, x.data());

    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const LlamaLayer& layer = layers_[l];
      cpu::rmsnorm(x.data(), layer.input_norm.data(), eps, N, Hd, normed.data());
      layer.q.apply(cx, normed.data(), N, q.data());
      layer.k.apply(cx, normed.data(), N, k.data());
      layer.v.apply(cx, normed.data(), N, v.data());
      if (c.qk_norm) {  // Qwen3: RMSNorm over each head's D values, before RoPE
        cpu::rmsnorm(q.data(), layer.q_norm.data(), eps, N * H, D, q.data());
        cpu::rmsnorm(k.data(), layer.k_norm.data(), eps, N * G, D, k.data());
      }
      cpu::apply_rope(q.data(), N, H, H * D, D, 0, D, cos.data(), sin.data(), cpu::RopeLayout::kHalf);
      cpu::apply_rope(k.data(), N, G, G * D, D, 0, D, cos.data(), sin.data(), cpu::RopeLayout::kHalf);
      // Cache row per token, in its own sequence's cache: [K (G·D) | V (G·D)].
      for (int64_t s = 0; s < rows.sequences(); ++s) {
        const KvSequenceView& kv = batch[static_cast<size_t>(s)].kv;
        for (int64_t i = rows.begin(s); i < rows.begin(s) + rows.count(s); ++i) {
          float* row = kv.row(l, rows.positions[static_cast<size_t>(i)]);
          std::copy_n(k.data() + i * G * D, G * D, row);
          std::copy_n(v.data() + i * G * D, G * D, row + G * D);
        }
      }
      dump_tensor(options, [&] { return fmt::format("layer.{}.attn.q", l); }, {N, H, D}, q.data());
      dump_tensor(options, [&] { return fmt::format("layer.{}.attn.k", l); }, {N, G, D}, k.data());

      for_each_sequence(pool_, rows, [&](int64_t s, ThreadPool& pool) {
        attend(pool, batch[static_cast<size_t>(s)], l, rows.count(s), q.data() + rows.begin(s) * H * D,
               heads.data() + rows.begin(s) * H * D);
      });
      layer.o.apply(cx, heads.data(), N, delta.data());
      add_inplace(x.data(), delta.data(), N * Hd);
      dump_tensor(options, [&] { return fmt::format("layer.{}.attn_out", l); }, {N, Hd}, delta.data());

      cpu::rmsnorm(x.data(), layer.post_norm.data(), eps, N, Hd, normed.data());
      layer.mlp.apply(cx, normed.data(), N, delta.data(), scratch);
      add_inplace(x.data(), delta.data(), N * Hd);
      dump_tensor(options, [&] { return fmt::format("layer.{}.out", l); }, {N, Hd}, x.data());
    }
    batch_logits(cx, x.data(), batch, rows, final_norm_, eps, lm_head_, options, logits);
  }

 private:
  // Causal attention of one sequence's T query rows q [T, H, D] over its cache (positions < pos0 + T,
  // this layer's rows already written) → out [T, H, D].
  void attend(ThreadPool& pool, const BatchSequence& seq, int64_t layer, int64_t T, const float* q, float* out) const {
    const io::ModelConfig& c = config_;
    const int64_t H = c.num_attention_heads, G = c.num_key_value_heads, D = c.head_dim;
    const KvSequenceView& kv = seq.kv;
    cpu::KvView view;
    view.k = (*kv.layer_base)[static_cast<size_t>(layer)];
    view.v = view.k + G * D;
    view.k_token_stride = view.v_token_stride = 2 * G * D;
    view.k_head_stride = view.v_head_stride = D;
    view.block_table = kv.block_table;
    view.block_size = kv.block_size;
    view.k_block_stride = view.v_block_stride = kv.block_size * 2 * G * D;
    const cpu::AttentionParams ap = cpu::causal_chunk_params(T, seq.pos0, H, G, D, D, softmax_scale_);
    cpu::attention(pool, ap, q, view, out);
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
