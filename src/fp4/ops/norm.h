// RMSNorm with Hugging Face semantics (LlamaRMSNorm / DeepseekV3RMSNorm / Qwen3RMSNorm in fp32):
//   variance = mean(x²) over the row (f32), n = x · rsqrt(variance + eps), y = gamma ⊙ n.
// The multiply order (x · r, then · gamma) is HF's; the row sum order differs from torch's, so results
// agree to a few ulp, not bit for bit.
#pragma once

#include <cstdint>

namespace fp4::cpu {

// x:     [rows, dim] f32, row r starts at x + r * x_stride   (x_stride ≥ dim)
// gamma: [dim] f32 (the norm weight, converted to f32 at load)
// out:   [rows, dim] f32, row r starts at out + r * out_stride; out may alias x (same stride).
// Strides let one call normalise a slice of a wider row, e.g. the 512 latent values of MLA's 576-wide
// kv_a_proj output, or every head of q[T, H, head_dim] for Qwen3's q_norm (rows = T·H, dim = head_dim).
void rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim,
             float* out, int64_t out_stride);

// Contiguous rows: x, out [rows, dim].
inline void rmsnorm(const float* x, const float* gamma, float eps, int64_t rows, int64_t dim, float* out) {
  rmsnorm(x, dim, gamma, eps, rows, dim, out, dim);
}

namespace reference {
// Scalar reference: the same formula, row sum accumulated in double.
void rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim,
             float* out, int64_t out_stride);
}  // namespace reference

}  // namespace fp4::cpu
