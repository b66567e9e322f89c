// Top-k scalar reference: a stable sort of all indices by value (NaN first), then the first k. Stability
// gives the documented tie rule (equal values by ascending index) without any index comparison.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/ops/topk.h"

namespace fp4::cpu {
namespace reference {

void topk(const float* x, int64_t n, int64_t k, int32_t* indices, float* values) {
  FP4_CHECK(n >= 0 && n <= INT32_MAX, "topk: row length must be in [0, 2^31), got {}", n);
  FP4_CHECK(k >= 0 && k <= n, "topk: k must be in [0, n = {}], got {}", n, k);
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // Stable sort on value alone (NaN first): ties keep ascending index order by stability.
  std::stable_sort(order.begin(), order.end(), [x](int32_t a, int32_t b) {
    const bool na = std::isnan(x[a]);
    const bool nb = std::isnan(x[b]);
    if (na || nb) return na && !nb;
    return x[a] > x[b];
  });
  for (int64_t j = 0; j < k; ++j) {
    indices[j] = order[static_cast<size_t>(j)];
    if (values != nullptr) values[j] = x[indices[j]];
  }
}

}  // namespace reference
}  // namespace fp4::cpu
