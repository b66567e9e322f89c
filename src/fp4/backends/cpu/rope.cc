// RoPE: cos/sin tables per position and the rotation, SIMD path (Highway, runtime dispatch).
// Scalar reference: rope_reference.cc. The rotation uses separate f32 multiplies and one add/sub per
// output (no fused multiply-add), so it reproduces HF's (x·cos) + (rotate(x)·sin) bit for bit given the
// same cos/sin.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/rope.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>
#include <cstdint>

#include "fp4/base/error.h"
#include "fp4/ops/rope.h"

// Shared constants: this file is compiled once per SIMD target, so guard them.
#ifndef FP4_CPU_ROPE_CONSTANTS
#define FP4_CPU_ROPE_CONSTANTS
namespace fp4::cpu {
// The de-interleaving layout rotates through a stack copy of one head's rotary slice.
constexpr int64_t kMaxRotaryDim = 1024;
}  // namespace fp4::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {  // internal linkage: other files define per-target helpers with the same names

// lo/hi are the two members of each rotation pair; writes lo' = lo·c − hi·s, hi' = hi·c + lo·s.
template <class D, class V>
HWY_INLINE void Rotate(D, V lo, V hi, V c, V s, V& out_lo, V& out_hi) {
  out_lo = hn::Sub(hn::Mul(lo, c), hn::Mul(hi, s));
  out_hi = hn::Add(hn::Mul(hi, c), hn::Mul(lo, s));
}

// x: one head's rotary slice [rotary_dim]; cos, sin: [rotary_dim/2].
void RotateHalf(float* x, int64_t half, const float* cos, const float* sin) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= half; i += lanes) {
    hn::Vec<decltype(d)> lo, hi;
    Rotate(d, hn::LoadU(d, x + i), hn::LoadU(d, x + half + i), hn::LoadU(d, cos + i), hn::LoadU(d, sin + i), lo,
           hi);
    hn::StoreU(lo, d, x + i);
    hn::StoreU(hi, d, x + half + i);
  }
  for (; i < half; ++i) {
    const float a = x[i], b = x[half + i];
    x[i] = a * cos[i] - b * sin[i];
    x[half + i] = b * cos[i] + a * sin[i];
  }
}

// Pairs (2i, 2i+1); the result goes to (i, half + i) (HF) or back to (2i, 2i+1) (DeepSeek reference).
void RotateInterleaved(float* x, int64_t half, const float* cos, const float* sin, bool deinterleave) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  float copy[kMaxRotaryDim];
  const float* src = x;
  if (deinterleave) {  // outputs land where unread inputs still are: read from a copy
    for (int64_t j = 0; j < 2 * half; ++j) copy[j] = x[j];
    src = copy;
  }
  int64_t i = 0;
  for (; i + lanes <= half; i += lanes) {
    hn::Vec<decltype(d)> even, odd, lo, hi;
    hn::LoadInterleaved2(d, src + 2 * i, even, odd);
    Rotate(d, even, odd, hn::LoadU(d, cos + i), hn::LoadU(d, sin + i), lo, hi);
    if (deinterleave) {
      hn::StoreU(lo, d, x + i);
      hn::StoreU(hi, d, x + half + i);
    } else {
      hn::StoreInterleaved2(lo, hi, d, x + 2 * i);
    }
  }
  for (; i < half; ++i) {
    const float a = src[2 * i], b = src[2 * i + 1];
    const float lo = a * cos[i] - b * sin[i];
    const float hi = b * cos[i] + a * sin[i];
    if (deinterleave) {
      x[i] = lo;
      x[half + i] = hi;
    } else {
      x[2 * i] = lo;
      x[2 * i + 1] = hi;
    }
  }
}

void ApplyRope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride, int64_t rot_offset,
               int64_t rotary_dim, const float* cos, const float* sin, int layout_code) {
  const auto layout = static_cast<RopeLayout>(layout_code);
  const int64_t half = rotary_dim / 2;
  for (int64_t t = 0; t < tokens; ++t) {
    const float* ct = cos + t * half;
    const float* st = sin + t * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* head = x + t * token_stride + h * head_stride + rot_offset;
      if (layout == RopeLayout::kHalf) {
        RotateHalf(head, half, ct, st);
      } else {
        RotateInterleaved(head, half, ct, st, layout == RopeLayout::kInterleaved);
      }
    }
  }
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace fp4::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu {

HWY_EXPORT(ApplyRope);

void rope_cos_sin(const RopeFrequencies& freqs, const int32_t* positions, int64_t tokens, float* cos, float* sin) {
  const int64_t half = static_cast<int64_t>(freqs.inv_freq.size());
  for (int64_t t = 0; t < tokens; ++t) {
    FP4_CHECK(positions[t] >= 0, "rope: position {} of token {} is negative", positions[t], t);
    const float pos = static_cast<float>(positions[t]);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = pos * freqs.inv_freq[static_cast<size_t>(i)];
      cos[t * half + i] = std::cos(angle) * freqs.attention_factor;
      sin[t * half + i] = std::sin(angle) * freqs.attention_factor;
    }
  }
}

void apply_rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride,
                int64_t rot_offset, int64_t rotary_dim, const float* cos, const float* sin, RopeLayout layout) {
  FP4_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0 && rotary_dim <= kMaxRotaryDim,
            "rope: rotary_dim must be even and in (0, {}], got {}", kMaxRotaryDim, rotary_dim);
  FP4_CHECK(rot_offset >= 0, "rope: rot_offset must be ≥ 0, got {}", rot_offset);
  if (tokens <= 0 || heads <= 0) return;
  HWY_DYNAMIC_DISPATCH(ApplyRope)(x, tokens, heads, token_stride, head_stride, rot_offset, rotary_dim, cos, sin,
                                  static_cast<int>(layout));
}

}  // namespace fp4::cpu
#endif  // HWY_ONCE
