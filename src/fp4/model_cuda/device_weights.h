// The model's weights on the GPU: device copies of the checkpoint bytes in their stored encodings
// (WeightViews whose pointers are device addresses, which cuda::matmul takes as they are), and the
// f32 vectors (norm weights, biases) the CPU binder already converted.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fp4/model/weights.h"
#include "fp4/model_cuda/device_memory.h"
#include "fp4/ops/weight.h"

namespace fp4::model_cuda {

// Bytes of a weight's payload and scales as stored (what an upload copies).
uint64_t stored_bytes(const WeightView& w);

// A copy of w with every pointer moved to the device.
WeightView upload_weight(DeviceArena& arena, const WeightView& w, const std::string& name);

// An f32 vector on the device (nullptr for an empty one).
const float* upload_vector(DeviceArena& arena, const std::vector<float>& v, const std::string& name);

struct DeviceLinear {
  std::string name;
  WeightView w;                  // [out, in], device pointers
  const float* bias = nullptr;   // [out] on the device, or nullptr

  int64_t out_features() const { return w.rows; }
  int64_t in_features() const { return w.cols; }
  // y [M, out] = x [M, in] · Wᵀ + bias, all device f32.
  void apply(const float* x, int64_t M, float* y, cudaStream_t stream) const;
};

DeviceLinear upload_linear(DeviceArena& arena, const model::Linear& l);

// down(silu(gate(x)) ⊙ up(x)).
struct DeviceMlp {
  DeviceLinear gate, up, down;
  int64_t intermediate() const { return gate.out_features(); }
  // x [M, hidden] → y [M, hidden]; scratch: device [2, M, intermediate] floats.
  void apply(const float* x, int64_t M, float* y, float* scratch, cudaStream_t stream) const;
};

DeviceMlp upload_mlp(DeviceArena& arena, const model::GatedMlp& m);

}  // namespace fp4::model_cuda
