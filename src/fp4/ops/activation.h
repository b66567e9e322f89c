// Elementwise activations: SiLU-gated MLP core and sigmoid (MoE router scores).
// silu(z) = z · σ(z), σ(z) = 1 / (1 + exp(−z)), the functions torch.nn.functional.silu / torch.sigmoid
// compute, to within a few f32 ulp (the bound is derived in tests/unit/ops/op_cases_pointwise.cc).
// NaN in gives NaN out.
#pragma once

#include <cstdint>

namespace fp4::cpu {

// out[i] = silu(gate[i]) · up[i] for i < n. gate, up, out: [n] f32; out may alias gate or up.
// For a batch of M rows of width I stored contiguously, pass n = M·I.
void silu_mul(const float* gate, const float* up, int64_t n, float* out);

// Rows variant for a fused gate_up buffer: row r of gate starts at gate + r·gate_stride, same for up
// and out. E.g. gate_up [M, 2I] → gate = buf, up = buf + I, strides 2I, out [M, I] with stride I.
void silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                   int64_t n, float* out, int64_t out_stride);

// out[i] = σ(x[i]); x, out: [n]; out may alias x.
void sigmoid(const float* x, int64_t n, float* out);

namespace reference {
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
void silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                   int64_t n, float* out, int64_t out_stride);
void sigmoid(const float* x, int64_t n, float* out);
}  // namespace reference

}  // namespace fp4::cpu
