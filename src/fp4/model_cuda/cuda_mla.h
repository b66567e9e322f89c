// DeepSeek multi-head latent attention on the GPU: model/mla.h's two exact forms, op for op (see that
// header for the math). Expanded for prefill chunks, absorbed over the latent cache for decode rows.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <vector>

#include "fp4/io/model_config.h"
#include "fp4/model/mla.h"
#include "fp4/model/model.h"
#include "fp4/model_cuda/cuda_model_base.h"
#include "fp4/model_cuda/device_memory.h"
#include "fp4/model_cuda/device_weights.h"

namespace fp4::model_cuda {

struct DeviceMla {
  bool q_lora = false;
  DeviceLinear q_a, q_b, q_proj;      // q_a/q_b with q_lora, else q_proj
  const float* q_a_norm = nullptr;    // [q_lora_rank]
  DeviceLinear kv_a;                  // [L + R, hidden]
  const float* kv_a_norm = nullptr;   // [L]
  DeviceLinear kv_b;                  // [H·(P + V), L]
  DeviceLinear o_proj;                // [hidden, H·V]
  std::vector<WeightView> uk_t, uv;   // [H] absorbed copies of kv_b (BF16 or F32, exact), device pointers
};

DeviceMla upload_mla(DeviceArena& arena, const model::MlaWeights& w, int64_t layer);

// What an MLA layer needs from the model around it.
struct MlaStep {
  const io::ModelConfig* config = nullptr;
  const Step* step = nullptr;
  cpu::RopeLayout rope_layout = cpu::RopeLayout::kInterleaved;
  float softmax_scale = 0.0f;
  const CudaModelBase* model = nullptr;  // the cache pools and the step helpers
};

// x [N, hidden] (normed, device) → out [N, hidden] (device): writes every row's latent to its cache slot,
// then attends per sequence (each sequence in the form a single-sequence call would take).
void mla_forward_cuda(const MlaStep& ms, const DeviceMla& w, const float* x,
                      std::span<const model::BatchSequence> batch, int64_t layer, model::MlaForm form, float* out,
                      cudaStream_t stream);

}  // namespace fp4::model_cuda
