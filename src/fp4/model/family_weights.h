// What each model family binds from a checkpoint, shared by the CPU models (llama.cc, deepseek_v3.cc)
// and the GPU models (src/fp4/model_cuda), so that both devices load exactly the same tensors with the
// same checks: a missing tensor, a wrong shape or a config field the family cannot run is the same
// one-line error on either. The GPU models bind with these, then upload what they bound.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "fp4/io/model_config.h"
#include "fp4/model/mla.h"
#include "fp4/model/moe.h"
#include "fp4/model/weights.h"
#include "fp4/ops/rope.h"

namespace fp4::model {

// One decoder layer of Llama 3.x / Qwen2 / Qwen3: GQA attention (Qwen2: q/k/v biases; Qwen3: q/k norms)
// and a SiLU-gated MLP.
struct LlamaLayerWeights {
  std::vector<float> input_norm, post_norm;  // [hidden]
  Linear q, k, v, o;
  std::vector<float> q_norm, k_norm;  // [head_dim], Qwen3 only
  GatedMlp mlp;
};

// One decoder layer of DeepSeek-V3/R1/V2: MLA, then a dense MLP or a mixture of experts.
struct DeepseekLayerWeights {
  std::vector<float> input_norm, post_norm;  // [hidden]
  MlaWeights attn;
  std::optional<GatedMlp> dense;  // layers < first_k_dense_replace (or off the moe_layer_freq grid)
  std::optional<MoeWeights> moe;
};

template <typename Layer>
struct FamilyWeights {
  Embedding embed;
  std::vector<Layer> layers;
  std::vector<float> final_norm;  // [hidden]
  Linear lm_head;
};

// Checks the config fields the family needs, binds the embedding, every layer, the final norm and the
// output head, then checks that nothing in the checkpoint was left unbound. Throws fp4::Error naming the
// field or tensor.
FamilyWeights<LlamaLayerWeights> bind_llama(WeightBinder& binder, const io::ModelConfig& config);
FamilyWeights<DeepseekLayerWeights> bind_deepseek(WeightBinder& binder, const io::ModelConfig& config);

// How DeepSeek's q and k are rotated: V3 with rope_interleave (the default) rotates pairs (2i, 2i+1) and
// writes them de-interleaved, as HF does; V2 writes them back in place. Either is exact: q and k share it.
cpu::RopeLayout deepseek_rope_layout(const io::ModelConfig& config);

}  // namespace fp4::model
