// Llama 3.x, Qwen2 and Qwen3 on the GPU: the forward pass of model/llama.cc, op for op, with every
// tensor in device memory. Binding and validation are the CPU model's (WeightBinder, the same tensors
// and checks); the bound weights are then uploaded in their stored encodings.
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <vector>

#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/model_ops.h"
#include "fp4/base/error.h"
#include "fp4/model/families.h"
#include "fp4/model/family_weights.h"
#include "fp4/model_cuda/cuda_model.h"
#include "fp4/model_cuda/cuda_model_base.h"

namespace fp4::model_cuda {
namespace {

struct LlamaLayer {
  const float* input_norm = nullptr;  // [hidden]
  const float* post_norm = nullptr;   // [hidden]
  DeviceLinear q, k, v, o;
  const float* q_norm = nullptr;  // [head_dim], Qwen3 only
  const float* k_norm = nullptr;
  DeviceMlp mlp;
};

class CudaLlamaModel final : public CudaModelBase {
 public:
  CudaLlamaModel(const std::string& dir, io::ModelConfig config, ThreadPool& pool)
      : CudaModelBase(std::move(config), pool), binder_(dir) {
    const io::ModelConfig& c = config_;
    const int64_t D = c.head_dim;
    // Bind everything first (the CPU model's tensors and checks), then upload.
    model::FamilyWeights<model::LlamaLayerWeights> host = model::bind_llama(binder_, c);
    embed_ = host.embed;
    rope_ = rope_frequencies(model::rope_config(c, D));
    softmax_scale_ = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));  // HF: head_dim ** -0.5

    for (size_t l = 0; l < host.layers.size(); ++l) {
      const model::LlamaLayerWeights& h = host.layers[l];
      const std::string p = fmt::format("model.layers.{}", l);
      LlamaLayer d;
      d.input_norm = upload_vector(arena_, h.input_norm, p + ".input_layernorm.weight");
      d.post_norm = upload_vector(arena_, h.post_norm, p + ".post_attention_layernorm.weight");
      d.q = upload_linear(arena_, h.q);
      d.k = upload_linear(arena_, h.k);
      d.v = upload_linear(arena_, h.v);
      d.o = upload_linear(arena_, h.o);
      d.q_norm = upload_vector(arena_, h.q_norm, p + ".self_attn.q_norm.weight");
      d.k_norm = upload_vector(arena_, h.k_norm, p + ".self_attn.k_norm.weight");
      d.mlp = upload_mlp(arena_, h.mlp);
      layers_.push_back(std::move(d));
    }
    final_norm_ = upload_vector(arena_, host.final_norm, "model.norm.weight");
    lm_head_ = upload_linear(arena_, host.lm_head);
  }

  uint64_t weight_bytes() const override {
    return binder_.bound_bytes() + static_cast<uint64_t>(embed_.rows * embed_.cols * dtype_size(embed_.dtype));
  }

  std::string describe() const override {
    return fmt::format("{}: {} layers, hidden {}, {} heads / {} kv heads × {}, vocab {}{}; {}; on the GPU ({:.1f} MB "
                       "of device weights)",
                       config_.model_type, layers_.size(), config_.hidden_size, config_.num_attention_heads,
                       config_.num_key_value_heads, config_.head_dim, config_.vocab_size,
                       config_.tie_word_embeddings ? " (tied)" : "", binder_.encoding_summary(),
                       static_cast<double>(arena_.bytes()) / 1e6);
  }

  // model/llama.cc's forward_batch: every linear once over the batch's N rows, attention per sequence.
  void forward_batch(std::span<const model::BatchSequence> batch, const model::ForwardOptions& options,
                     float* logits) override {
    check_options(options);
    const io::ModelConfig& c = config_;
    const int64_t Hd = c.hidden_size, H = c.num_attention_heads, G = c.num_key_value_heads, D = c.head_dim;
    const float eps = static_cast<float>(c.rms_norm_eps);
    Step step = begin_step(batch, options, embed_, rope_, D);
    const int64_t N = step.rows.n;
    if (N == 0) return;
    cudaStream_t st = stream_;
    float* x = step.x.get();                       // [N, hidden] residual stream
    StreamArray<float> normed(N * Hd, st);         // [N, hidden]
    StreamArray<float> delta(N * Hd, st);          // [N, hidden]
    StreamArray<float> q(N * H * D, st);           // [N, H, D]
    StreamArray<float> k(N * G * D, st);           // [N, G, D]
    StreamArray<float> v(N * G * D, st);           // [N, G, D]
    StreamArray<float> heads(N * H * D, st);       // [N, H, D] attention output
    StreamArray<float> scratch(2 * N * c.intermediate_size, st);  // MLP gate and up [2, N, I]

    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const LlamaLayer& layer = layers_[static_cast<size_t>(l)];
      cuda::rmsnorm(x, Hd, layer.input_norm, eps, N, Hd, normed.get(), Hd, st);
      layer.q.apply(normed.get(), N, q.get(), st);
      layer.k.apply(normed.get(), N, k.get(), st);
      layer.v.apply(normed.get(), N, v.get(), st);
      if (c.qk_norm) {  // Qwen3: RMSNorm over each head's D values, before RoPE
        cuda::rmsnorm(q.get(), D, layer.q_norm, eps, N * H, D, q.get(), D, st);
        cuda::rmsnorm(k.get(), D, layer.k_norm, eps, N * G, D, k.get(), D, st);
      }
      cuda::apply_rope(q.get(), N, H, H * D, D, 0, D, step.cos.get(), step.sin.get(), cpu::RopeLayout::kHalf, st);
      cuda::apply_rope(k.get(), N, G, G * D, D, 0, D, step.cos.get(), step.sin.get(), cpu::RopeLayout::kHalf, st);
      // Cache row per token: [K (G·D) | V (G·D)].
      write_kv(step, l, k.get(), G * D, G * D, 0);
      write_kv(step, l, v.get(), G * D, G * D, G * D);
      for (int64_t s = 0; s < step.rows.sequences(); ++s) {
        const model::BatchSequence& seq = batch[static_cast<size_t>(s)];
        const int64_t T = step.rows.count(s);
        cpu::KvView view = paged_view(step, s, l, 0, G * D);
        view.k_head_stride = view.v_head_stride = D;
        const cpu::AttentionParams ap = cpu::causal_chunk_params(T, seq.pos0, H, G, D, D, softmax_scale_);
        const int64_t r0 = step.rows.begin(s);
        cuda::attention(ap, q.get() + r0 * H * D, view, heads.get() + r0 * H * D, st);
      }
      layer.o.apply(heads.get(), N, delta.get(), st);
      cuda::add_rows(x, Hd, delta.get(), Hd, N, Hd, st);

      cuda::rmsnorm(x, Hd, layer.post_norm, eps, N, Hd, normed.get(), Hd, st);
      layer.mlp.apply(normed.get(), N, delta.get(), scratch.get(), st);
      cuda::add_rows(x, Hd, delta.get(), Hd, N, Hd, st);
    }
    finish_logits(step, batch, final_norm_, eps, lm_head_, logits);
  }

 private:
  model::WeightBinder binder_;
  model::Embedding embed_;  // stays on the host (mmap'd): rows are looked up there and uploaded per step
  std::vector<LlamaLayer> layers_;
  const float* final_norm_ = nullptr;
  DeviceLinear lm_head_;
  RopeFrequencies rope_;
  float softmax_scale_ = 0.0f;
};

}  // namespace

std::unique_ptr<model::Model> make_cuda_llama(const std::string& dir, io::ModelConfig config, ThreadPool& pool) {
  return std::make_unique<CudaLlamaModel>(dir, std::move(config), pool);
}

}  // namespace fp4::model_cuda
