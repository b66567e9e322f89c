// DeepSeek-V3 / R1 and V2 / V2-Lite on the GPU: the forward pass of model/deepseek_v3.cc, op for op, with
// MLA (cuda_mla.h) and the MoE (cuda_moe.h) on the device. Binding and validation are the CPU model's
// (WeightBinder, MlaWeights::bind, MoeWeights::bind); the bound weights are then uploaded.
#include <fmt/format.h>

#include <memory>
#include <optional>
#include <vector>

#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/model_ops.h"
#include "fp4/base/error.h"
#include "fp4/model/families.h"
#include "fp4/model/family_weights.h"
#include "fp4/model/mla.h"
#include "fp4/model/moe.h"
#include "fp4/model_cuda/cuda_mla.h"
#include "fp4/model_cuda/cuda_model.h"
#include "fp4/model_cuda/cuda_model_base.h"
#include "fp4/model_cuda/cuda_moe.h"

namespace fp4::model_cuda {
namespace {

struct DeepseekLayer {
  const float* input_norm = nullptr;  // [hidden]
  const float* post_norm = nullptr;   // [hidden]
  DeviceMla attn;
  std::optional<DeviceMlp> dense;  // layers < first_k_dense_replace (or off the moe_layer_freq grid)
  std::optional<DeviceMoe> moe;
};

class CudaDeepseekModel final : public CudaModelBase {
 public:
  CudaDeepseekModel(const std::string& dir, io::ModelConfig config, ThreadPool& pool)
      : CudaModelBase(std::move(config), pool), binder_(dir) {
    const io::ModelConfig& c = config_;
    // Bind and validate everything first (the CPU model's tensors and checks), then upload layer by layer.
    model::FamilyWeights<model::DeepseekLayerWeights> host = model::bind_deepseek(binder_, c);
    embed_ = host.embed;

    const RopeConfig rc = model::rope_config(c, c.mla->qk_rope_head_dim);
    rope_ = rope_frequencies(rc);
    softmax_scale_ = deepseek_softmax_scale(c.mla->qk_head_dim(), rc);
    rope_layout_ = model::deepseek_rope_layout(c);

    for (size_t l = 0; l < host.layers.size(); ++l) {
      model::DeepseekLayerWeights& h = host.layers[l];
      const std::string p = fmt::format("model.layers.{}", l);
      DeepseekLayer d;
      d.input_norm = upload_vector(arena_, h.input_norm, p + ".input_layernorm.weight");
      d.post_norm = upload_vector(arena_, h.post_norm, p + ".post_attention_layernorm.weight");
      d.attn = upload_mla(arena_, h.attn, static_cast<int64_t>(l));
      if (h.moe) {
        d.moe = upload_moe(arena_, *h.moe);
        widest_ = std::max(widest_, d.moe->widest());
      } else {
        d.dense = upload_mlp(arena_, *h.dense);
        widest_ = std::max(widest_, d.dense->intermediate());
      }
      layers_.push_back(std::move(d));
      h = model::DeepseekLayerWeights{};  // the absorbed host copies are no longer needed
    }
    final_norm_ = upload_vector(arena_, host.final_norm, "model.norm.weight");
    lm_head_ = upload_linear(arena_, host.lm_head);
  }

  uint64_t weight_bytes() const override {
    return binder_.bound_bytes() + static_cast<uint64_t>(embed_.rows * embed_.cols * dtype_size(embed_.dtype));
  }

  std::string describe() const override {
    int64_t moe_layers = 0;
    for (const auto& l : layers_) moe_layers += l.moe.has_value() ? 1 : 0;
    return fmt::format("{}: {} layers ({} MoE), hidden {}, vocab {}; {}; on the GPU ({:.1f} MB of device weights)",
                       config_.model_type, layers_.size(), moe_layers, config_.hidden_size, config_.vocab_size,
                       binder_.encoding_summary(), static_cast<double>(arena_.bytes()) / 1e6);
  }

  // model/deepseek_v3.cc's forward_batch: every linear and the MoE once over the batch's N rows, MLA
  // attention and the cache writes per sequence.
  void forward_batch(std::span<const model::BatchSequence> batch, const model::ForwardOptions& options,
                     float* logits) override {
    check_options(options);
    const io::ModelConfig& c = config_;
    const int64_t Hd = c.hidden_size;
    const float eps = static_cast<float>(c.rms_norm_eps);
    Step step = begin_step(batch, options, embed_, rope_, c.mla->qk_rope_head_dim);
    const int64_t N = step.rows.n;
    if (N == 0) return;
    cudaStream_t st = stream_;
    const MlaStep ms{&c, &step, rope_layout_, softmax_scale_, this};
    float* x = step.x.get();                       // [N, hidden] residual stream
    StreamArray<float> normed(N * Hd, st);         // [N, hidden]
    StreamArray<float> delta(N * Hd, st);          // [N, hidden] block output
    StreamArray<float> scratch(2 * N * widest_, st);  // dense MLP gate and up [2, N, I]

    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const DeepseekLayer& layer = layers_[static_cast<size_t>(l)];
      // h = x + Attn(RMSNorm_in(x))
      cuda::rmsnorm(x, Hd, layer.input_norm, eps, N, Hd, normed.get(), Hd, st);
      mla_forward_cuda(ms, layer.attn, normed.get(), batch, l, options.mla_form, delta.get(), st);
      cuda::add_rows(x, Hd, delta.get(), Hd, N, Hd, st);
      // x = h + FFN(RMSNorm_post(h)): all N tokens routed together, each chosen expert run once.
      cuda::rmsnorm(x, Hd, layer.post_norm, eps, N, Hd, normed.get(), Hd, st);
      if (layer.moe) {
        moe_forward_cuda(*c.moe, *layer.moe, normed.get(), N, l, options.routing, delta.get(), st);
      } else {
        layer.dense->apply(normed.get(), N, delta.get(), scratch.get(), st);
      }
      cuda::add_rows(x, Hd, delta.get(), Hd, N, Hd, st);
    }
    finish_logits(step, batch, final_norm_, eps, lm_head_, logits);
  }

 private:
  model::WeightBinder binder_;
  model::Embedding embed_;  // stays on the host (mmap'd): rows are looked up there and uploaded per step
  std::vector<DeepseekLayer> layers_;
  const float* final_norm_ = nullptr;
  DeviceLinear lm_head_;
  RopeFrequencies rope_;
  float softmax_scale_ = 0.0f;
  cpu::RopeLayout rope_layout_ = cpu::RopeLayout::kInterleaved;
  int64_t widest_ = 0;  // largest MLP intermediate size (dense layers and experts)
};

}  // namespace

std::unique_ptr<model::Model> make_cuda_deepseek(const std::string& dir, io::ModelConfig config, ThreadPool& pool) {
  return std::make_unique<CudaDeepseekModel>(dir, std::move(config), pool);
}

std::unique_ptr<model::Model> load_cuda_model(const std::string& dir, ThreadPool& pool) {
  io::ModelConfig config = io::load_model_config(dir);
  switch (config.arch) {
    case io::Architecture::kDeepseekV3:
    case io::Architecture::kDeepseekV2: return make_cuda_deepseek(dir, std::move(config), pool);
    case io::Architecture::kLlama:
    case io::Architecture::kQwen2:
    case io::Architecture::kQwen3: return make_cuda_llama(dir, std::move(config), pool);
  }
  fail("{}: model_type '{}' is not supported; supported: {}", config.source, config.model_type,
       io::accepted_model_types());
}

}  // namespace fp4::model_cuda
