// RMSNorm scalar reference: the sum of squares in double (so its own error is negligible next to the
// f32 fast path), then HF's formula with f32 roundings at the same places.
#include <cmath>
#include <cstdint>

#include "fp4/ops/norm.h"

namespace fp4::cpu::reference {

void rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim,
             float* out, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = out + r * out_stride;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum += static_cast<double>(xr[i]) * xr[i];
    const double rstd = 1.0 / std::sqrt(sum / static_cast<double>(dim) + static_cast<double>(eps));
    for (int64_t i = 0; i < dim; ++i) yr[i] = static_cast<float>(static_cast<double>(gamma[i]) * (xr[i] * rstd));
  }
}

}  // namespace fp4::cpu::reference
