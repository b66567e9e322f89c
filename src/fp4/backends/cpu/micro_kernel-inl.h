// The f32 register-blocked micro-kernel shared by the prefill paths of matmul.cc (weights decoded to
// f32 panels) and matmul_nvfp4_f32.cc (NVFP4 decoded to f32 panels): an MR×NR block of dot products
// over one K-chunk, with each x vector loaded once per chunk and reused against NR weight rows.
//
// Highway per-target header: it is included by a translation unit once per SIMD target (between the
// target toggles of foreach_target), so the guard flips with HWY_TARGET_TOGGLE instead of closing.
#if defined(FP4_BACKENDS_CPU_MICRO_KERNEL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef FP4_BACKENDS_CPU_MICRO_KERNEL_INL_H_
#undef FP4_BACKENDS_CPU_MICRO_KERNEL_INL_H_
#else
#define FP4_BACKENDS_CPU_MICRO_KERNEL_INL_H_
#endif

#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu::HWY_NAMESPACE {

// y[i, j] (+)= Σ_k x[i][k] · wrows[j][k] for an MR×NR block over one K-chunk of length len.
// x: MR rows with stride ldx; wrows: NR row pointers (f32, decoded); y: stride ldy. first: overwrite
// instead of add. The tail past the last whole vector is summed in scalar code.
template <int MR, int NR>
HWY_INLINE void MicroKernel(const float* HWY_RESTRICT x, int64_t ldx, const float* const* wrows, int64_t len,
                            float* HWY_RESTRICT y, int64_t ldy, bool first) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::ScalableTag<float> df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  hn::Vec<decltype(df)> acc[MR][NR];
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) acc[i][j] = hn::Zero(df);
  }
  int64_t k = 0;
  for (; k + L <= len; k += L) {
    hn::Vec<decltype(df)> xv[MR];
    for (int i = 0; i < MR; ++i) xv[i] = hn::LoadU(df, x + i * ldx + k);
    for (int j = 0; j < NR; ++j) {
      const auto wv = hn::LoadU(df, wrows[j] + k);
      for (int i = 0; i < MR; ++i) acc[i][j] = hn::MulAdd(xv[i], wv, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i) {
    for (int j = 0; j < NR; ++j) {
      float sum = hn::GetLane(hn::SumOfLanes(df, acc[i][j]));
      for (int64_t t = k; t < len; ++t) sum += x[i * ldx + t] * wrows[j][t];
      y[i * ldy + j] = first ? sum : y[i * ldy + j] + sum;
    }
  }
}

// One K-chunk of a prefill tile: y[m, n0 + j] (+)= x[m, k0 : k0 + len] · rows[j][0 : len] for m in
// [m0, m_end), j < n_count, in MR×NR blocks (remainders with MR = 1 and NR = 1). x: [M, K] row-major,
// y: [M, N] row-major.
template <int MR, int NR>
HWY_INLINE void SweepPanel(const float* HWY_RESTRICT x, int64_t K, int64_t k0, int64_t len, const float* const* rows,
                           int64_t n_count, int64_t m0, int64_t m_end, float* HWY_RESTRICT y, int64_t N, int64_t n0,
                           bool first) {
  int64_t m = m0;
  for (; m + MR <= m_end; m += MR) {
    int64_t j = 0;
    for (; j + NR <= n_count; j += NR) {
      MicroKernel<MR, NR>(x + m * K + k0, K, rows + j, len, y + m * N + n0 + j, N, first);
    }
    for (; j < n_count; ++j) MicroKernel<MR, 1>(x + m * K + k0, K, rows + j, len, y + m * N + n0 + j, N, first);
  }
  for (; m < m_end; ++m) {
    int64_t j = 0;
    for (; j + NR <= n_count; j += NR) {
      MicroKernel<1, NR>(x + m * K + k0, K, rows + j, len, y + m * N + n0 + j, N, first);
    }
    for (; j < n_count; ++j) MicroKernel<1, 1>(x + m * K + k0, K, rows + j, len, y + m * N + n0 + j, N, first);
  }
}

}  // namespace fp4::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
