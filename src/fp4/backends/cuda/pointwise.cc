// Host entry points of the pointwise CUDA ops: argument checks, then the launchers of pointwise.cu.
#include <cstdint>
#include <limits>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/kernels.h"
#include "fp4/base/error.h"

namespace fp4::cuda {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

}  // namespace

void rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim, float* out,
             int64_t out_stride, cudaStream_t stream) {
  FP4_CHECK(rows >= 0 && dim > 0 && rows <= kMaxInt && dim <= kMaxInt,
            "cuda rmsnorm: rows = {} and dim = {} must be non-negative / positive and fit in int32", rows, dim);
  FP4_CHECK(x_stride >= dim && out_stride >= dim, "cuda rmsnorm: strides ({}, {}) must be at least dim = {}",
            x_stride, out_stride, dim);
  FP4_CHECK(eps >= 0.0f, "cuda rmsnorm: eps = {} must not be negative", eps);
  if (rows == 0) return;
  FP4_CHECK(x != nullptr && gamma != nullptr && out != nullptr, "cuda rmsnorm: x, gamma or out is a null pointer");
  check_cuda(detail::launch_rmsnorm(x, x_stride, gamma, eps, static_cast<int>(rows), static_cast<int>(dim), out,
                                    out_stride, stream),
             "rmsnorm launch");
}

void silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                   int64_t n, float* out, int64_t out_stride, cudaStream_t stream) {
  FP4_CHECK(rows >= 0 && n >= 0 && rows <= kMaxInt && n <= kMaxInt,
            "cuda silu_mul_rows: rows = {} and n = {} must be non-negative and fit in int32", rows, n);
  FP4_CHECK(gate_stride >= n && up_stride >= n && out_stride >= n,
            "cuda silu_mul_rows: strides ({}, {}, {}) must be at least n = {}", gate_stride, up_stride, out_stride, n);
  if (rows == 0 || n == 0) return;
  FP4_CHECK(gate != nullptr && up != nullptr && out != nullptr, "cuda silu_mul_rows: gate, up or out is a null pointer");
  check_cuda(detail::launch_silu_mul_rows(gate, gate_stride, up, up_stride, static_cast<int>(rows),
                                          static_cast<int>(n), out, out_stride, stream),
             "silu_mul_rows launch");
}

void apply_rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride, int64_t rot_offset,
                int64_t rotary_dim, const float* cos, const float* sin, cpu::RopeLayout layout, cudaStream_t stream) {
  FP4_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= 8192,
            "cuda rope: rotary_dim must be even, positive and at most 8192, got {}", rotary_dim);
  FP4_CHECK(tokens >= 0 && heads >= 0 && rot_offset >= 0 && tokens * heads <= kMaxInt && rot_offset <= kMaxInt,
            "cuda rope: tokens = {}, heads = {}, rot_offset = {} out of range", tokens, heads, rot_offset);
  if (tokens == 0 || heads == 0) return;
  FP4_CHECK(x != nullptr && cos != nullptr && sin != nullptr, "cuda rope: x, cos or sin is a null pointer");
  int code = 0;
  switch (layout) {
    case cpu::RopeLayout::kHalf: code = 0; break;
    case cpu::RopeLayout::kInterleaved: code = 1; break;
    case cpu::RopeLayout::kInterleavedPairs: code = 2; break;
  }
  check_cuda(detail::launch_rope(x, static_cast<int>(tokens), static_cast<int>(heads), token_stride, head_stride,
                                 static_cast<int>(rot_offset), static_cast<int>(rotary_dim), cos, sin, code, stream),
             "rope launch");
}

}  // namespace fp4::cuda
