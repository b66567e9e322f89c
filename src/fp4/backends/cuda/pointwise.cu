// RMSNorm, SiLU·up and RoPE with the CPU backend's semantics (norm.h, activation.h, rope.h).
//   rmsnorm: one block per row; the sum of squares in f32 (per-thread strided partial sums, then a
//     shuffle and shared-memory tree), rstd = 1 / sqrt(mean + eps) with IEEE sqrt and division, then
//     y = gamma · (x · rstd) as two f32 products, HF's order.
//   silu_mul: silu(g) · up = g / (1 + exp(−g)) · up with expf (≤ 2 ulp) and IEEE division.
//   rope: the reference's exact sequence of f32 operations with contraction disabled (__fmul_rn,
//     __fadd_rn), so the result equals the CPU reference bit for bit.
#include <cstdint>

#include "kernels.h"

namespace fp4::cuda::detail {
namespace {

constexpr int kNormThreads = 256;
constexpr int kPointwiseThreads = 256;

__global__ void __launch_bounds__(kNormThreads) rmsnorm_kernel(const float* x, int64_t x_stride,
                                                              const float* __restrict__ gamma, float eps, int dim,
                                                              float* out, int64_t out_stride) {
  __shared__ float warp_sums[kNormThreads / 32];
  __shared__ float rstd_shared;
  const float* xr = x + blockIdx.x * x_stride;
  float* yr = out + blockIdx.x * out_stride;
  float sum = 0.f;
  for (int i = static_cast<int>(threadIdx.x); i < dim; i += kNormThreads) sum = fmaf(xr[i], xr[i], sum);
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < kNormThreads / 32 ? warp_sums[threadIdx.x] : 0.f;
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
    if (threadIdx.x == 0) rstd_shared = 1.0f / sqrtf(v / static_cast<float>(dim) + eps);
  }
  __syncthreads();
  const float rstd = rstd_shared;
  for (int i = static_cast<int>(threadIdx.x); i < dim; i += kNormThreads) {
    yr[i] = __fmul_rn(gamma[i], __fmul_rn(xr[i], rstd));
  }
}

__global__ void silu_mul_rows_kernel(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
                                     int rows, int n, float* out, int64_t out_stride) {
  const int64_t total = static_cast<int64_t>(rows) * n;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = idx / n;
    const int64_t i = idx % n;
    const float g = gate[r * gate_stride + i];
    const float u = up[r * up_stride + i];
    out[r * out_stride + i] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u);
  }
}

// One block per (token, head): the rotated slice is read into shared memory first because the
// interleaved layouts write elements that other threads still have to read.
__global__ void rope_kernel(float* x, int heads, int64_t token_stride, int64_t head_stride, int rot_offset,
                            int rotary_dim, const float* __restrict__ cos, const float* __restrict__ sin,
                            int layout) {
  extern __shared__ float slice[];
  const int token = static_cast<int>(blockIdx.x) / heads;
  const int h = static_cast<int>(blockIdx.x) % heads;
  float* head = x + token * token_stride + h * head_stride + rot_offset;
  const int half = rotary_dim / 2;
  for (int j = static_cast<int>(threadIdx.x); j < rotary_dim; j += blockDim.x) slice[j] = head[j];
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < half; i += blockDim.x) {
    // "in" in the reference's half order.
    const float a = layout == 0 ? slice[i] : slice[2 * i];             // in[i]
    const float b = layout == 0 ? slice[half + i] : slice[2 * i + 1];  // in[half + i]
    const float c = cos[static_cast<int64_t>(token) * half + i];
    const float s = sin[static_cast<int64_t>(token) * half + i];
    const float first = __fadd_rn(__fmul_rn(a, c), __fmul_rn(-b, s));   // j = i:        in·c + (−in[half+i])·s
    const float second = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));  // j = half + i: in·c + in[i]·s
    if (layout == 2) {
      head[2 * i] = first;
      head[2 * i + 1] = second;
    } else {
      head[i] = first;
      head[half + i] = second;
    }
  }
}

int grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<int>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

}  // namespace

cudaError_t launch_rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int rows, int dim,
                           float* out, int64_t out_stride, cudaStream_t stream) {
  rmsnorm_kernel<<<rows, kNormThreads, 0, stream>>>(x, x_stride, gamma, eps, dim, out, out_stride);
  return cudaGetLastError();
}

cudaError_t launch_silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
                                 int rows, int n, float* out, int64_t out_stride, cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(rows) * n;
  silu_mul_rows_kernel<<<grid_for(total, kPointwiseThreads), kPointwiseThreads, 0, stream>>>(
      gate, gate_stride, up, up_stride, rows, n, out, out_stride);
  return cudaGetLastError();
}

cudaError_t launch_rope(float* x, int tokens, int heads, int64_t token_stride, int64_t head_stride, int rot_offset,
                        int rotary_dim, const float* cos, const float* sin, int layout, cudaStream_t stream) {
  const int half = rotary_dim / 2;
  const int threads = half >= 128 ? 128 : ((half + 31) / 32) * 32;
  const size_t smem = static_cast<size_t>(rotary_dim) * sizeof(float);
  rope_kernel<<<tokens * heads, threads, smem, stream>>>(x, heads, token_stride, head_stride, rot_offset, rotary_dim,
                                                          cos, sin, layout);
  return cudaGetLastError();
}

}  // namespace fp4::cuda::detail
