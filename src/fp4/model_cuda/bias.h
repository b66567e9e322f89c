// The one kernel the GPU models add to the backend's ops: a linear layer's bias (Qwen2's q/k/v biases).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fp4::model_cuda::detail {

// y [rows, n] (contiguous, device) += bias [n] (device) on every row. Exact: one f32 add per element, as
// the CPU's Linear::apply does after its matmul.
cudaError_t launch_add_bias(float* y, const float* bias, int64_t rows, int64_t n, cudaStream_t stream);

}  // namespace fp4::model_cuda::detail
