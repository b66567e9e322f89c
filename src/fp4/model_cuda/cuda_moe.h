// DeepSeek mixture of experts on the GPU (model/moe.h's math): router logits on the device, copied back
// and routed on the host by the CPU's own decision (model::route_from_logits), then per selected expert a
// gather of its tokens, the expert MLP and a weighted scatter-add into the output, in ascending expert
// order as the CPU sums; then the shared expert.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "fp4/io/model_config.h"
#include "fp4/model/model.h"
#include "fp4/model/moe.h"
#include "fp4/model_cuda/device_memory.h"
#include "fp4/model_cuda/device_weights.h"

namespace fp4::model_cuda {

struct DeviceMoe {
  // The router as an exact F32 copy of its stored weight: f32 activations and f32 arithmetic, so that
  // near-tie routing decisions come out as the CPU's (a BF16 tensor-core router would round the
  // activations to 8 bits of mantissa first).
  DeviceLinear router;                 // [n_routed_experts, hidden]
  std::vector<float> correction_bias;  // [n_routed_experts] on the host (routing runs there), noaux_tc only
  std::vector<DeviceMlp> experts;      // [n_routed_experts]
  std::optional<DeviceMlp> shared;

  int64_t widest() const;  // largest intermediate size of an expert or the shared expert
};

DeviceMoe upload_moe(DeviceArena& arena, const model::MoeWeights& w);

// y [T, hidden] = routed experts + shared expert of x [T, hidden] (device). Waits for the router logits.
// Appends a RoutingRecord to `routing` when set.
void moe_forward_cuda(const io::MoeConfig& moe, const DeviceMoe& w, const float* x, int64_t T, int64_t layer,
                      std::vector<model::RoutingRecord>* routing, float* y, cudaStream_t stream);

}  // namespace fp4::model_cuda
