// Scalar references for the activations: the textbook formulas in double, rounded once to f32.
#include <cmath>
#include <cstdint>

#include "fp4/ops/activation.h"

namespace fp4::cpu::reference {
namespace {

double sigmoid_exact(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g * sigmoid_exact(g) * static_cast<double>(up[i]));
  }
}

void silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                   int64_t n, float* out, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r) silu_mul(gate + r * gate_stride, up + r * up_stride, n, out + r * out_stride);
}

void sigmoid(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(sigmoid_exact(x[i]));
}

}  // namespace fp4::cpu::reference
