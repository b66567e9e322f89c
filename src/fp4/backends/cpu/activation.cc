// SiLU-gated product and sigmoid, SIMD path (Highway, runtime dispatch). Scalar reference:
// activation_reference.cc. silu(z) = z · σ(z), silu_mul = silu(gate) · up, with σ computed in the
// overflow-free form below (torch computes z / (1 + exp(−z)); both are within a few ulp of the truth).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/activation.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <cmath>
#include <cstdint>

#include "fp4/ops/activation.h"

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {  // internal linkage: other files define per-target helpers with the same names

// σ(z) in the overflow-free form: with e = exp(−|z|) ∈ (0, 1], σ(z) = 1/(1+e) for z ≥ 0 and e/(1+e) for
// z < 0. exp's argument is never positive, so it cannot overflow (torch's 1/(1+exp(−z)) overflows to
// inf for z < −88.7 and returns exactly 0 there; this form keeps the tiny true value). Below −104
// Highway's Exp returns 0, which is also the f32 value of the true result.
template <class D, class V>
HWY_INLINE V Sigmoid(D d, V z) {
  const V e = hn::Exp(d, hn::Neg(hn::Abs(z)));
  const V inv = hn::Div(hn::Set(d, 1.0f), hn::Add(hn::Set(d, 1.0f), e));
  return hn::IfThenElse(hn::Lt(z, hn::Zero(d)), hn::Mul(e, inv), inv);
}

inline float SigmoidScalar(float z) {
  const float e = std::exp(-std::fabs(z));
  const float inv = 1.0f / (1.0f + e);
  return z < 0.0f ? e * inv : inv;
}

void SiluMulSpan(const float* gate, const float* up, int64_t n, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto g = hn::LoadU(d, gate + i);
    hn::StoreU(hn::Mul(hn::Mul(g, Sigmoid(d, g)), hn::LoadU(d, up + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = (gate[i] * SigmoidScalar(gate[i])) * up[i];
}

void SiluMulRows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                 int64_t n, float* out, int64_t out_stride) {
  for (int64_t r = 0; r < rows; ++r) SiluMulSpan(gate + r * gate_stride, up + r * up_stride, n, out + r * out_stride);
}

void SigmoidSpan(const float* x, int64_t n, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(d, x + i);
    // Highway's Exp does not promise NaN out for NaN in; put the input NaN back explicitly. (SiLU needs
    // no such step: its product with z is NaN already.)
    hn::StoreU(hn::IfThenElse(hn::IsNaN(v), v, Sigmoid(d, v)), d, out + i);
  }
  for (; i < n; ++i) out[i] = std::isnan(x[i]) ? x[i] : SigmoidScalar(x[i]);
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace fp4::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu {

HWY_EXPORT(SiluMulSpan);
HWY_EXPORT(SiluMulRows);
HWY_EXPORT(SigmoidSpan);

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(SiluMulSpan)(gate, up, n, out);
}

void silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                   int64_t n, float* out, int64_t out_stride) {
  if (rows <= 0 || n <= 0) return;
  HWY_DYNAMIC_DISPATCH(SiluMulRows)(gate, gate_stride, up, up_stride, rows, n, out, out_stride);
}

void sigmoid(const float* x, int64_t n, float* out) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(SigmoidSpan)(x, n, out);
}

}  // namespace fp4::cpu
#endif  // HWY_ONCE
