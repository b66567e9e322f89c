// Row softmax, SIMD path (Highway, runtime dispatch). Scalar reference: softmax_reference.cc.
// Three passes per row: max; e = exp(x − max) stored and summed; scale by 1/sum (torch's CPU kernel
// also multiplies by the reciprocal).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/softmax.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "fp4/ops/softmax.h"

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {  // internal linkage: other files define per-target helpers with the same names

void SoftmaxRow(const float* x, int64_t n, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  auto vmax = hn::Set(d, kNegInf);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
  float row_max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  for (; i < n; ++i) row_max = std::fmax(row_max, x[i]);

  if (row_max == kNegInf) {  // every entry masked: documented all-zero row
    for (int64_t j = 0; j < n; ++j) out[j] = 0.0f;
    return;
  }

  // x − max ≤ 0, so Exp's argument stays in its valid range; below −104 it returns 0 (and so does
  // the true value, rounded to f32). −inf − max = −inf → 0.
  const auto vrow_max = hn::Set(d, row_max);
  auto vsum = hn::Zero(d);
  i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vrow_max));
    hn::StoreU(e, d, out + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; i < n; ++i) {
    out[i] = std::exp(x[i] - row_max);
    sum += out[i];
  }

  const float inv_sum = 1.0f / sum;
  const auto vinv = hn::Set(d, inv_sum);
  i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, out + i), vinv), d, out + i);
  for (; i < n; ++i) out[i] *= inv_sum;
}

void SoftmaxRows(const float* x, int64_t rows, int64_t n, float* out) {
  for (int64_t r = 0; r < rows; ++r) SoftmaxRow(x + r * n, n, out + r * n);
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace fp4::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu {

HWY_EXPORT(SoftmaxRows);

void softmax(const float* x, int64_t rows, int64_t n, float* out) {
  if (rows <= 0 || n <= 0) return;
  HWY_DYNAMIC_DISPATCH(SoftmaxRows)(x, rows, n, out);
}

}  // namespace fp4::cpu
#endif  // HWY_ONCE
