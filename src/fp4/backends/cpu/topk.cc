// Top-k selection. Small k (MoE routing: 8 of 256, 4 of 8 groups) keeps a sorted buffer of the best k
// seen so far and rejects most elements with one comparison against the current k-th; large k (sampling
// over a vocabulary) partitions with nth_element and sorts the head. Both order elements by the same
// strict total order, so they return exactly what the reference's stable full sort returns.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/ops/topk.h"

namespace fp4::cpu {
namespace {

// "a ranks before b": larger value first, NaN above everything, equal values (incl. −0 == +0, and
// NaN vs NaN) by lower index. A strict total order on (value, index) pairs with distinct indices.
inline bool ranks_before(float va, int64_t ia, float vb, int64_t ib) {
  const bool na = std::isnan(va);
  const bool nb = std::isnan(vb);
  if (na || nb) {
    if (na != nb) return na;
    return ia < ib;
  }
  if (va != vb) return va > vb;
  return ia < ib;
}

// Threshold above which partition + sort beats the insertion buffer (insertion costs O(k) per accepted
// element; for random data about k·ln(n/k) elements are accepted).
constexpr int64_t kInsertionMaxK = 32;

void topk_by_insertion(const float* x, int64_t n, int64_t k, int32_t* indices) {
  // indices[0..filled) is sorted by ranks_before. Elements arrive in increasing index order, so an element
  // equal to the current k-th never displaces it (the lower index wins), which ranks_before encodes.
  int64_t filled = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (filled == k) {
      const int64_t last = indices[k - 1];
      if (!ranks_before(v, i, x[last], last)) continue;
      --filled;  // drop the current k-th
    }
    int64_t pos = filled;
    while (pos > 0 && ranks_before(v, i, x[indices[pos - 1]], indices[pos - 1])) {
      indices[pos] = indices[pos - 1];
      --pos;
    }
    indices[pos] = static_cast<int32_t>(i);
    ++filled;
  }
}

void topk_by_partition(const float* x, int64_t n, int64_t k, int32_t* indices) {
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const auto before = [x](int32_t a, int32_t b) { return ranks_before(x[a], a, x[b], b); };
  if (k < n) std::nth_element(order.begin(), order.begin() + k, order.end(), before);
  std::sort(order.begin(), order.begin() + k, before);
  std::copy(order.begin(), order.begin() + k, indices);
}

}  // namespace

void topk(const float* x, int64_t n, int64_t k, int32_t* indices, float* values) {
  FP4_CHECK(n >= 0 && n <= INT32_MAX, "topk: row length must be in [0, 2^31), got {}", n);
  FP4_CHECK(k >= 0 && k <= n, "topk: k must be in [0, n = {}], got {}", n, k);
  if (k == 0) return;
  if (k <= kInsertionMaxK) {
    topk_by_insertion(x, n, k, indices);
  } else {
    topk_by_partition(x, n, k, indices);
  }
  if (values != nullptr) {
    for (int64_t j = 0; j < k; ++j) values[j] = x[indices[j]];
  }
}

}  // namespace fp4::cpu
