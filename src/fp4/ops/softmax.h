// Row softmax in f32, numerically stable: p = exp(x − max) / Σ exp(x − max), as torch.softmax(dim=-1).
// −inf entries give probability 0; a row that is all −inf gives all zeros (torch would give NaN; the
// engine never builds such a row, and zeros are safer downstream).
#pragma once

#include <cstdint>

namespace fp4::cpu {

// x: [rows, n] f32 contiguous; out: [rows, n]; out may alias x.
void softmax(const float* x, int64_t rows, int64_t n, float* out);

namespace reference {
// Scalar reference: max, then exp and sum in double.
void softmax(const float* x, int64_t rows, int64_t n, float* out);
}  // namespace reference

}  // namespace fp4::cpu
