// The bandwidth ceiling measured with a plain streaming copy kernel (16-byte loads and stores, a grid of
// a few blocks per SM walking the buffer), next to cudaMemcpy's device-to-device copy: on this GPU the
// driver's copy can be slower than what a kernel reaches, and a kernel is what the GEMV competes with.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace {

__global__ void __launch_bounds__(512) copy_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst,
                                                   size_t count) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < count; i += 4 * stride) {  // four independent loads in flight per thread
    const uint4 a = src[i];
    const uint4 b = src[i + stride];
    const uint4 c = src[i + 2 * stride];
    const uint4 d = src[i + 3 * stride];
    dst[i] = a;
    dst[i + stride] = b;
    dst[i + 2 * stride] = c;
    dst[i + 3 * stride] = d;
  }
  for (; i < count; i += stride) dst[i] = src[i];
}

}  // namespace

// Copies `bytes` (a multiple of 16) from src to dst on `stream`.
cudaError_t launch_copy_kernel(const void* src, void* dst, size_t bytes, int sm_count, cudaStream_t stream) {
  copy_kernel<<<4 * sm_count, 512, 0, stream>>>(static_cast<const uint4*>(src), static_cast<uint4*>(dst), bytes / 16);
  return cudaGetLastError();
}
