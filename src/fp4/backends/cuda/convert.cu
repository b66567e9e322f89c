// Small elementwise kernels of the matmul paths: the split-K reduction and f32 → bf16 activations.
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels.h"
#include "mma_kernel.cuh"

namespace fp4::cuda::detail {
namespace {

constexpr int kElementwiseThreads = 256;

__global__ void mma_reduce_split_kernel(const float* __restrict__ partial, int split, int64_t count,
                                        float out_scale, float* __restrict__ y) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    // Loads first (independent, so they overlap), then the sum in slice order.
    float sum = 0.f;
    int z = 0;
    for (; z + 4 <= split; z += 4) {
      const float a = partial[z * count + i];
      const float b = partial[(z + 1) * count + i];
      const float c = partial[(z + 2) * count + i];
      const float d = partial[(z + 3) * count + i];
      sum = (((sum + a) + b) + c) + d;
    }
    for (; z < split; ++z) sum += partial[z * count + i];
    y[i] = sum * out_scale;
  }
}

__global__ void f32_to_bf16_kernel(const float* __restrict__ x, __nv_bfloat16* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = __float2bfloat16_rn(x[i]);
  }
}

int grid_for(int64_t n) {
  const int64_t blocks = (n + kElementwiseThreads - 1) / kElementwiseThreads;
  return static_cast<int>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

}  // namespace

cudaError_t launch_mma_reduce(const float* partial, int split, int64_t count, float out_scale, float* y,
                              cudaStream_t stream) {
  mma_reduce_split_kernel<<<grid_for(count), kElementwiseThreads, 0, stream>>>(partial, split, count, out_scale, y);
  return cudaGetLastError();
}

cudaError_t launch_f32_to_bf16(const float* x, uint16_t* out, int64_t n, cudaStream_t stream) {
  f32_to_bf16_kernel<<<grid_for(n), kElementwiseThreads, 0, stream>>>(x, reinterpret_cast<__nv_bfloat16*>(out), n);
  return cudaGetLastError();
}

}  // namespace fp4::cuda::detail
