// y[r, i] += bias[i]: the bias of a linear layer, broadcast over the rows of its output.
#include <cuda_runtime.h>

#include <cstdint>

#include "fp4/model_cuda/bias.h"

namespace fp4::model_cuda::detail {
namespace {

__global__ void add_bias_kernel(float* __restrict__ y, const float* __restrict__ bias, int64_t rows, int64_t n) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[i] += bias[i % n];
  }
}

}  // namespace

cudaError_t launch_add_bias(float* y, const float* bias, int64_t rows, int64_t n, cudaStream_t stream) {
  const int64_t total = rows * n;
  if (total == 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  const int grid = static_cast<int>(blocks < 65535 * 8 ? blocks : 65535 * 8);  // grid-stride beyond that
  add_bias_kernel<<<grid, kThreads, 0, stream>>>(y, bias, rows, n);
  return cudaGetLastError();
}

}  // namespace fp4::model_cuda::detail
