// RMSNorm, SIMD path (Highway, runtime dispatch). Scalar reference: rmsnorm_reference.cc.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/rmsnorm.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>
#include <cstdint>

#include "fp4/ops/norm.h"

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {  // internal linkage: other files define per-target helpers with the same names

// One row: sum of squares in f32 over two vector accumulators (then a scalar tail), then HF's
// n = x · rsqrt(mean + eps), y = gamma · n, each product rounded separately.
void RmsnormRow(const float* HWY_RESTRICT x, const float* HWY_RESTRICT gamma, float eps, int64_t dim,
                float* out) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * lanes <= dim; i += 2 * lanes) {
    const auto a = hn::LoadU(d, x + i);
    const auto b = hn::LoadU(d, x + i + lanes);
    acc0 = hn::MulAdd(a, a, acc0);
    acc1 = hn::MulAdd(b, b, acc1);
  }
  for (; i + lanes <= dim; i += lanes) {
    const auto a = hn::LoadU(d, x + i);
    acc0 = hn::MulAdd(a, a, acc0);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < dim; ++i) sum += x[i] * x[i];

  const float variance = sum / static_cast<float>(dim);
  const float r = 1.0f / std::sqrt(variance + eps);
  const auto rv = hn::Set(d, r);
  i = 0;
  // out may alias x: each element is read before it is written, and lanes never overlap.
  for (; i + lanes <= dim; i += lanes) {
    const auto n = hn::Mul(hn::LoadU(d, x + i), rv);
    hn::StoreU(hn::Mul(hn::LoadU(d, gamma + i), n), d, out + i);
  }
  for (; i < dim; ++i) out[i] = gamma[i] * (x[i] * r);
}

void RmsnormRows(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim,
                 float* out, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r) RmsnormRow(x + r * x_stride, gamma, eps, dim, out + r * out_stride);
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace fp4::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu {

HWY_EXPORT(RmsnormRows);

void rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim,
             float* out, int64_t out_stride) {
  if (rows <= 0 || dim <= 0) return;
  HWY_DYNAMIC_DISPATCH(RmsnormRows)(x, x_stride, gamma, eps, rows, dim, out, out_stride);
}

}  // namespace fp4::cpu
#endif  // HWY_ONCE
