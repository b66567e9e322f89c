// Row softmax scalar reference: max, then exp(x − max) and the sum in double, one f32 rounding at the end.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fp4/ops/softmax.h"

namespace fp4::cpu::reference {

void softmax(const float* x, int64_t rows, int64_t n, float* out) {
  std::vector<double> e(static_cast<size_t>(n > 0 ? n : 0));
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = out + r * n;
    double row_max = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) row_max = std::fmax(row_max, static_cast<double>(xr[i]));
    if (row_max == -std::numeric_limits<double>::infinity()) {
      for (int64_t i = 0; i < n; ++i) yr[i] = 0.0f;
      continue;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      e[static_cast<size_t>(i)] = std::exp(static_cast<double>(xr[i]) - row_max);
      sum += e[static_cast<size_t>(i)];
    }
    for (int64_t i = 0; i < n; ++i) yr[i] = static_cast<float>(e[static_cast<size_t>(i)] / sum);
  }
}

}  // namespace fp4::cpu::reference
