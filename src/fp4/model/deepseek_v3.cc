// DeepSeek-V3 / R1 / R1-0528 and DeepSeek-V2 / V2-Lite: MLA attention + (dense | MoE) MLP per layer.
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/model/families.h"
#include "fp4/model/family_weights.h"
#include "fp4/model/forward_util.h"
#include "fp4/model/mla.h"
#include "fp4/model/moe.h"
#include "fp4/ops/norm.h"
#include "fp4/ops/rope.h"

namespace fp4::model {
namespace {

using DeepseekLayer = DeepseekLayerWeights;

class DeepseekModel final : public Model {
 public:
  DeepseekModel(const std::string& dir, io::ModelConfig config, ThreadPool& pool)
      : Model(std::move(config), pool), binder_(dir) {
    const io::ModelConfig& c = config_;
    FamilyWeights<DeepseekLayerWeights> w = bind_deepseek(binder_, c);
    embed_ = w.embed;
    layers_ = std::move(w.layers);
    final_norm_ = std::move(w.final_norm);
    lm_head_ = std::move(w.lm_head);

    const RopeConfig rc = rope_config(c, c.mla->qk_rope_head_dim);
    rope_ = rope_frequencies(rc);
    // qk_head_dim^-0.5 · mscale(factor, mscale_all_dim)²: YaRN's attention factor folded into the scale.
    softmax_scale_ = deepseek_softmax_scale(c.mla->qk_head_dim(), rc);
    rope_layout_ = deepseek_rope_layout(c);
  }

  uint64_t weight_bytes() const override {
    return binder_.bound_bytes() + static_cast<uint64_t>(embed_.rows * embed_.cols * dtype_size(embed_.dtype));
  }

  std::string describe() const override {
    return fmt::format("{}: {} layers ({} MoE), hidden {}, vocab {}; {}", config_.model_type, layers_.size(),
                       moe_layers(), config_.hidden_size, config_.vocab_size, binder_.encoding_summary());
  }

  // Every linear and the MoE run once over the batch's N rows; MLA attention and the cache writes per
  // sequence (mla_forward).
  void forward_batch(std::span<const BatchSequence> batch, const ForwardOptions& options, float* logits) override {
    const io::ModelConfig& c = config_;
    const BatchRows rows = plan_batch(batch, options, c.vocab_size, kv_row_floats());
    if (rows.n == 0) return;
    const Compute cx{pool_, options.exact_matmul, {options.nvfp4_activations}, options.observe_linear_inputs};
    const int64_t N = rows.n;
    const int64_t Hd = c.hidden_size;
    const float eps = static_cast<float>(c.rms_norm_eps);

    // RoPE cos/sin for each row's own position: [N, R/2].
    const int64_t half = c.mla->qk_rope_head_dim / 2;
    std::vector<float> cos(static_cast<size_t>(N * half)), sin(static_cast<size_t>(N * half));
    cpu::rope_cos_sin(rope_, rows.positions.data(), N, cos.data(), sin.data());
    const MlaContext ctx{&c, &cos, &sin, rope_layout_, softmax_scale_};

    std::vector<float> x(static_cast<size_t>(N * Hd));       // [N, hidden] residual stream
    std::vector<float> normed(static_cast<size_t>(N * Hd));  // [N, hidden]
    std::vector<float> delta(static_cast<size_t>(N * Hd));   // [N, hidden] block output
    std::vector<float> scratch;
    embed_batch(embed_, batch, x.data());
    dump_tensor(options, [] { return std::string("embed"); }, {N, Hd}, x.data());

    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const DeepseekLayer& layer = layers_[l];
      // h = x + Attn(RMSNorm_in(x))
      cpu::rmsnorm(x.data(), layer.input_norm.data(), eps, N, Hd, normed.data());
      mla_forward(cx, ctx, layer.attn, normed.data(), batch, rows, l, options.mla_form, options, delta.data());
      add_inplace(x.data(), delta.data(), N * Hd);
      dump_tensor(options, [&] { return fmt::format("layer.{}.attn_out", l); }, {N, Hd}, delta.data());
      // x = h + FFN(RMSNorm_post(h)): all N tokens routed together, each chosen expert run once.
      cpu::rmsnorm(x.data(), layer.post_norm.data(), eps, N, Hd, normed.data());
      if (layer.moe) {
        moe_forward(cx, *c.moe, *layer.moe, normed.data(), N, l, options, delta.data());
      } else {
        layer.dense->apply(cx, normed.data(), N, delta.data(), scratch);
      }
      add_inplace(x.data(), delta.data(), N * Hd);
      dump_tensor(options, [&] { return fmt::format("layer.{}.out", l); }, {N, Hd}, x.data());
    }
    batch_logits(cx, x.data(), batch, rows, final_norm_, eps, lm_head_, options, logits);
  }

 private:
  int64_t moe_layers() const {
    int64_t n = 0;
    for (const auto& l : layers_) n += l.moe.has_value() ? 1 : 0;
    return n;
  }

  WeightBinder binder_;
  Embedding embed_;
  std::vector<DeepseekLayer> layers_;
  std::vector<float> final_norm_;
  Linear lm_head_;
  RopeFrequencies rope_;
  float softmax_scale_ = 0.0f;
  cpu::RopeLayout rope_layout_ = cpu::RopeLayout::kInterleaved;
};

}  // namespace

std::unique_ptr<Model> make_deepseek(const std::string& dir, io::ModelConfig config, ThreadPool& pool) {
  return std::make_unique<DeepseekModel>(dir, std::move(config), pool);
}

}  // namespace fp4::model
