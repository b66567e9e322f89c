// y[M,N] = x[M,K] · Wᵀ on the CPU, f32 arithmetic: BF16, F16, F32 and FP8-block weights on every target,
// NVFP4 on targets without an int8 kernel (matmul_nvfp4.cc handles NVFP4 where it can).
//
// The weight is never expanded as a whole. Two schedules:
//   M <= kSmallM (decode): memory-bound. Tasks are contiguous runs of W rows; each row is decoded in
//     registers and multiplied into every x row, so W is read from memory exactly once.
//   M >  kSmallM (prefill): compute-bound. Tasks are (tile of kTileN W rows) x (block of kBlockM x rows);
//     per K-chunk the tile is decoded once into an f32 buffer and reused by all kBlockM rows through an
//     MR x NR register block of dot products (each x vector load feeds NR FMAs, each W vector load MR).
// This file is compiled once per SIMD target (Highway foreach_target) and dispatched at run time.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "fp4/backends/cpu/matmul_internal.h"
#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/ops/matmul.h"

// Also compile the AVX3_DL target (Ice Lake / Zen 4: AVX-512 VNNI, VBMI), which Highway 1.0 leaves
// out unless asked; it must be requested before the first Highway header.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/matmul.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "fp4/backends/cpu/micro_kernel-inl.h"

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;

// NVFP4 on targets without the int8 kernel is decoded through a buffer of this many elements: a
// multiple of 16 (whole scale blocks), small enough (8 KiB) to stay in L1 while every x row uses it.
constexpr int64_t kRowChunkK = 2048;
// Tiled schedule: a tile of kTileN decoded W rows x kTileChunkK columns is 64 KiB of f32 (L2); the
// micro-kernel streams 4 of its rows and 4 x rows (16 KiB, L1). Longer chunks amortise the horizontal
// reductions at the end of each chunk (one per accumulator), which cost ~25% of the FMAs at 512.
constexpr int64_t kTileN = 32;
constexpr int64_t kBlockM = 64;
constexpr int64_t kTileChunkK = 512;
// Register block: MR x NR accumulators + MR x vectors + 1 W vector must fit the register file
// (32 vector registers with AVX-512, 16 otherwise).
#if HWY_TARGET <= HWY_AVX3
constexpr int kMR = 4;
constexpr int kNR = 4;
#else
constexpr int kMR = 3;
constexpr int kNR = 3;
#endif

// e4m3 · 2^-8 for L bytes at p, exactly. E4M3 bits s.eeee.mmm placed at f16 bits s.0eeee.mmm0000000
// form the f16 whose value is exactly e4m3 · 2^-8 (the exponent biases differ by 8; e4m3 subnormals
// land on f16 subnormals), and the f16 -> f32 conversion (F16C where present) is exact. Sign-extending
// the byte to 16 bits and shifting left by 7 puts the sign at bit 15 (and a copy at bit 14, which the
// mask clears). The NaN codes 0x7F/0xFF would come out as ±480·2^-8; no valid weight holds them.
HWY_INLINE hn::Vec<DF> E4M3TimesTwoToMinus8(const uint8_t* HWY_RESTRICT p) {
  const DF df;
  const hn::Rebind<int8_t, DF> di8;
  const hn::Rebind<int16_t, DF> di16;
  const hn::Rebind<hwy::float16_t, DF> df16;
  const auto wide = hn::PromoteTo(di16, hn::LoadU(di8, reinterpret_cast<const int8_t*>(p)));
  const auto bits = hn::And(hn::ShiftLeft<7>(wide), hn::Set(di16, static_cast<int16_t>(0xBF80)));
  return hn::PromoteTo(df, hn::BitCast(df16, bits));
}

// Writes W[n, k0 : k0+len) as f32 into out[0 : len) and returns where the values are (W itself for
// f32 weights, else out). Every decode is exact; the FP8 block scale and the NVFP4 scales are applied
// with one f32 rounding per element, as in the reference's definition of W.
const float* DecodeRow(const WeightView& w, int64_t n, int64_t k0, int64_t len, float* HWY_RESTRICT out) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  const int64_t K = w.cols;
  switch (w.encoding) {
    case WeightEncoding::kF32:
      return static_cast<const float*>(w.data) + n * K + k0;
    case WeightEncoding::kBF16: {
      // bf16 is the top half of an f32: widen and shift.
      const uint16_t* src = static_cast<const uint16_t*>(w.data) + n * K + k0;
      const hn::Rebind<uint16_t, DF> du16;
      const hn::RebindToUnsigned<DF> du32;
      int64_t i = 0;
      for (; i + L <= len; i += L) {
        const auto bits = hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, src + i)));
        hn::StoreU(hn::BitCast(df, bits), df, out + i);
      }
      for (; i < len; ++i) out[i] = bf16_to_f32(src[i]);
      return out;
    }
    case WeightEncoding::kF16: {
      const uint16_t* src = static_cast<const uint16_t*>(w.data) + n * K + k0;
      const hn::Rebind<hwy::float16_t, DF> df16;
      int64_t i = 0;
      for (; i + L <= len; i += L) {
        const auto h = hn::LoadU(df16, reinterpret_cast<const hwy::float16_t*>(src + i));
        hn::StoreU(hn::PromoteTo(df, h), df, out + i);
      }
      for (; i < len; ++i) out[i] = f16_to_f32(src[i]);
      return out;
    }
    case WeightEncoding::kFP8Block: {
      // e4m3 · scale = (e4m3 · 2^-8) · (scale · 2^8): the power of two moves into the scale exactly.
      const uint8_t* src = static_cast<const uint8_t*>(w.data) + n * K;
      const int64_t scale_cols = (K + w.block_cols - 1) / w.block_cols;
      const float* row_scales = w.block_scale_inv + (n / w.block_rows) * scale_cols;
      int64_t k = k0;
      const int64_t k_end = k0 + len;
      while (k < k_end) {
        const int64_t block = k / w.block_cols;
        const int64_t seg_end = std::min(k_end, (block + 1) * w.block_cols);
        const float scale = row_scales[block];
        const auto vscale = hn::Set(df, scale * 256.0f);
        for (; k + L <= seg_end; k += L) hn::StoreU(hn::Mul(E4M3TimesTwoToMinus8(src + k), vscale), df, out + (k - k0));
        for (; k < seg_end; ++k) out[k - k0] = e4m3_to_f32(src[k]) * scale;
      }
      return out;
    }
    case WeightEncoding::kNVFP4: {
      // Only reached on targets without the int8 kernel. k0 and len are multiples of 16 (whole blocks).
      // e2m1 * ue4m3 is exact in f32 (2 + 4 significant bits); the global scale rounds once.
      const uint8_t* packed = static_cast<const uint8_t*>(w.data) + (n * K + k0) / 2;
      const uint8_t* scales = w.block_scale + (n * K + k0) / 16;
      const float* pair = e2m1_pair_decode_table();
      for (int64_t b = 0; b < len / 16; ++b) {
        const float s = ue4m3_to_f32(scales[b]) * w.global_scale;
        for (int j = 0; j < 8; ++j) {
          const uint8_t byte = packed[b * 8 + j];
          out[b * 16 + 2 * j] = pair[2 * byte] * s;
          out[b * 16 + 2 * j + 1] = pair[2 * byte + 1] * s;
        }
      }
      return out;
    }
  }
  return out;
}

// Σ a[i]·b[i] in f32 with four independent accumulators (hides FMA latency).
float Dot(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, int64_t len) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  auto acc0 = hn::Zero(df), acc1 = hn::Zero(df), acc2 = hn::Zero(df), acc3 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 4 * L <= len; i += 4 * L) {
    acc0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(df, a + i + L), hn::LoadU(df, b + i + L), acc1);
    acc2 = hn::MulAdd(hn::LoadU(df, a + i + 2 * L), hn::LoadU(df, b + i + 2 * L), acc2);
    acc3 = hn::MulAdd(hn::LoadU(df, a + i + 3 * L), hn::LoadU(df, b + i + 3 * L), acc3);
  }
  for (; i + L <= len; i += L) acc0 = hn::MulAdd(hn::LoadU(df, a + i), hn::LoadU(df, b + i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(acc0, acc1), hn::Add(acc2, acc3))));
  for (; i < len; ++i) sum += a[i] * b[i];
  return sum;
}

// Σ_k x_g[k]·W[n,k] for G rows of x against one W row, decoding W in registers (no buffer).
// decode(k) returns W[n, k : k+L) divided by the current segment's scale; decode_scalar(k) one element;
// the row is cut into segments of seg_len columns (FP8: one 128-column block; else the whole row) whose
// sums are multiplied by scale(segment). Two accumulators per x row hide FMA latency.
template <int G, typename Decode, typename DecodeScalar, typename Scale>
HWY_INLINE void FusedRow(Decode decode, DecodeScalar decode_scalar, Scale scale, int64_t seg_len, const float* x,
                         int64_t K, float* out) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  float total[G] = {};
  for (int64_t s = 0; s < K; s += seg_len) {
    const int64_t e = std::min(K, s + seg_len);
    hn::Vec<DF> acc0[G], acc1[G];
    for (int g = 0; g < G; ++g) acc0[g] = acc1[g] = hn::Zero(df);
    int64_t k = s;
    for (; k + 2 * L <= e; k += 2 * L) {
      const auto w0 = decode(k);
      const auto w1 = decode(k + L);
      for (int g = 0; g < G; ++g) {
        acc0[g] = hn::MulAdd(w0, hn::LoadU(df, x + g * K + k), acc0[g]);
        acc1[g] = hn::MulAdd(w1, hn::LoadU(df, x + g * K + k + L), acc1[g]);
      }
    }
    for (; k + L <= e; k += L) {
      const auto w0 = decode(k);
      for (int g = 0; g < G; ++g) acc0[g] = hn::MulAdd(w0, hn::LoadU(df, x + g * K + k), acc0[g]);
    }
    const float seg_scale = scale(s);
    for (int g = 0; g < G; ++g) {
      float partial = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[g], acc1[g])));
      for (int64_t t = k; t < e; ++t) partial += decode_scalar(t) * x[g * K + t];
      total[g] += partial * seg_scale;
    }
  }
  for (int g = 0; g < G; ++g) out[g] = total[g];
}

// out[g] = Σ_k x_g[k]·W[n,k] for g < G, for the encodings decoded in registers (all but NVFP4).
template <int G>
void FusedRowAnyEncoding(const WeightView& w, int64_t n, const float* x, float* out) {
  const DF df;
  const int64_t K = w.cols;
  const auto one = [](int64_t) { return 1.0f; };
  switch (w.encoding) {
    case WeightEncoding::kF32: {
      const float* p = static_cast<const float*>(w.data) + n * K;
      FusedRow<G>([&](int64_t k) { return hn::LoadU(df, p + k); }, [&](int64_t k) { return p[k]; }, one, K, x, K, out);
      return;
    }
    case WeightEncoding::kBF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + n * K;
      const hn::Rebind<uint16_t, DF> du16;
      const hn::RebindToUnsigned<DF> du32;
      FusedRow<G>([&](int64_t k) { return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, p + k)))); },
                  [&](int64_t k) { return bf16_to_f32(p[k]); }, one, K, x, K, out);
      return;
    }
    case WeightEncoding::kF16: {
      const uint16_t* p = static_cast<const uint16_t*>(w.data) + n * K;
      const hn::Rebind<hwy::float16_t, DF> df16;
      FusedRow<G>([&](int64_t k) { return hn::PromoteTo(df, hn::LoadU(df16, reinterpret_cast<const hwy::float16_t*>(p + k))); },
                  [&](int64_t k) { return f16_to_f32(p[k]); }, one, K, x, K, out);
      return;
    }
    case WeightEncoding::kFP8Block: {
      const uint8_t* p = static_cast<const uint8_t*>(w.data) + n * K;
      const int64_t scale_cols = (K + w.block_cols - 1) / w.block_cols;
      const float* row_scales = w.block_scale_inv + (n / w.block_rows) * scale_cols;
      // Sums of (e4m3 · 2^-8)·x per block, times scale · 2^8.
      FusedRow<G>([&](int64_t k) { return E4M3TimesTwoToMinus8(p + k); },
                  [&](int64_t k) { return e4m3_to_f32(p[k]) * 0x1p-8f; },
                  [&](int64_t k) { return row_scales[k / w.block_cols] * 256.0f; }, w.block_cols, x, K, out);
      return;
    }
    case WeightEncoding::kNVFP4:
      break;  // decoded through a buffer (MatmulSmallM)
  }
}

// Decode schedule (M <= kSmallM): each task owns a range of W rows.
void MatmulSmallM(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  // Memory-bound: each task streams a contiguous run of rows (at least ~16 KiB, so the hardware
  // prefetchers get going); up to 8 tasks per thread, because the slowest thread sets the time of the
  // whole call and small tasks let the others take over its share.
  const int64_t row_bytes = detail::weight_row_bytes(w);
  const int64_t tasks_wanted =
      std::clamp<int64_t>(N * row_bytes / (16 * 1024), int64_t{pool.size()}, int64_t{pool.size()} * 8);
  const int64_t rows_per_task = detail::split_size(N, tasks_wanted, 1);
  const int64_t tasks = (N + rows_per_task - 1) / rows_per_task;
  pool.parallel_for(tasks, [&](int64_t task, int) {
    HWY_ALIGN float buffer[kRowChunkK];  // one decoded row chunk (NVFP4 on targets without int8 kernels)
    const int64_t n_end = std::min(N, (task + 1) * rows_per_task);
    for (int64_t n = task * rows_per_task; n < n_end; ++n) {
      float acc[detail::kSmallM] = {};
      if (w.encoding != WeightEncoding::kNVFP4) {
        switch (M) {
          case 1: FusedRowAnyEncoding<1>(w, n, x, acc); break;
          case 2: FusedRowAnyEncoding<2>(w, n, x, acc); break;
          case 3: FusedRowAnyEncoding<3>(w, n, x, acc); break;
          default: FusedRowAnyEncoding<4>(w, n, x, acc); break;
        }
      } else {
        for (int64_t k0 = 0; k0 < K; k0 += kRowChunkK) {
          const int64_t len = std::min(kRowChunkK, K - k0);
          const float* wrow = DecodeRow(w, n, k0, len, buffer);
          for (int64_t m = 0; m < M; ++m) acc[m] += Dot(x + m * K + k0, wrow, len);
        }
      }
      for (int64_t m = 0; m < M; ++m) y[m * N + n] = acc[m];
    }
  });
}

// Prefill schedule (M > kSmallM).
void MatmulTiled(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  const int64_t tiles_n = (N + kTileN - 1) / kTileN;
  const int64_t blocks_m = (M + kBlockM - 1) / kBlockM;
  pool.parallel_for(tiles_n * blocks_m, [&](int64_t task, int) {
    const int64_t n0 = (task % tiles_n) * kTileN;
    const int64_t m0 = (task / tiles_n) * kBlockM;
    const int64_t n_count = std::min(kTileN, N - n0);
    const int64_t m_end = std::min(M, m0 + kBlockM);
    HWY_ALIGN float tile[kTileN * kTileChunkK];  // [n_count, len] decoded weights
    const float* rows[kTileN];
    for (int64_t k0 = 0; k0 < K; k0 += kTileChunkK) {
      const int64_t len = std::min(kTileChunkK, K - k0);
      const bool first = k0 == 0;
      for (int64_t r = 0; r < n_count; ++r) rows[r] = DecodeRow(w, n0 + r, k0, len, tile + r * kTileChunkK);
      SweepPanel<kMR, kNR>(x, K, k0, len, rows, n_count, m0, m_end, y, N, n0, first);
    }
  });
}

void MatmulF32(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  if (M <= detail::kSmallM) {
    MatmulSmallM(pool, w, x, M, y);
  } else {
    MatmulTiled(pool, w, x, M, y);
  }
}

int64_t CurrentTarget() { return HWY_TARGET; }

}  // namespace fp4::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu {

HWY_EXPORT(MatmulF32);
HWY_EXPORT(CurrentTarget);

void matmul(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  check_weight(w, "matmul");
  FP4_CHECK(M >= 0, "matmul: M = {} rows of x must not be negative", M);
  if (M == 0) return;
  FP4_CHECK(x != nullptr && y != nullptr, "matmul: x or y is a null pointer (M = {})", M);
  if (w.encoding == WeightEncoding::kNVFP4 && detail::matmul_nvfp4_int8(pool, w, x, M, y)) return;
  HWY_DYNAMIC_DISPATCH(MatmulF32)(pool, w, x, M, y);
}

const char* matmul_target_name() { return hwy::TargetName(HWY_DYNAMIC_DISPATCH(CurrentTarget)()); }

}  // namespace fp4::cpu
#endif  // HWY_ONCE
