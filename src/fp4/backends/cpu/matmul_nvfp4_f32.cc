// NVFP4 y = x · Wᵀ with f32 activations (W4A16-style): the weight is decoded to f32 in registers and
// multiplied with FMAs, so the result equals the scalar reference up to f32 accumulation order — no
// activation quantization (compare matmul_nvfp4.cc, which quantizes x to int8 per 16-block).
//
// Generic decode (every target) of 32 weights (16 packed bytes, two scale blocks) in a 128-bit vector:
//   low nibbles = even k, high nibbles = odd k; InterleaveLower/Upper(low, high) puts the codes back in
//   k order (block 0, block 1); one byte shuffle (PSHUFB) maps each code to 2·e2m1 as int8 in [-12, 12];
//   the int8 lanes widen to int32 and convert to f32 (exact).
// Each block's multiplier is ue4m3/2 (exact in f32), so (2·e2m1)·(ue4m3/2) = e2m1·ue4m3 is exact: the
// only weight rounding is the global scale, applied once per output instead of once per element (both
// are one relative rounding of u; the tests' bound covers either).
//
// AVX-512 targets decode rows for M <= kSmallM with a faster two-table permute instead
// (FusedRowsNvfp4Avx512 and the comment above it describe it).
//
// Two schedules, as for the other encodings (matmul.cc):
//   M <= kSmallM (decode, memory-bound): each task streams a contiguous run of W rows; each row is decoded
//     in registers once and multiplied into all M rows of x.
//   M >  kSmallM (prefill, compute-bound): a tile of kTileN W rows × kTileChunkK columns is decoded once
//     into an f32 panel (exact e2m1·ue4m3 values) and reused by a block of kBlockM x rows through an
//     MR×NR register block.
// Compiled once per SIMD target (Highway foreach_target) and dispatched at run time.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "fp4/backends/cpu/matmul_internal.h"
#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/ops/matmul.h"

#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/matmul_nvfp4_f32.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "fp4/backends/cpu/micro_kernel-inl.h"
#include "hwy/aligned_allocator.h"

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source of unmasked
// operations, which its own -Wuninitialized flags once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR

using DF = hn::ScalableTag<float>;
using DI32 = hn::RebindToSigned<DF>;
using D8 = hn::Full128<uint8_t>;
using DI8 = hn::Full128<int8_t>;

// Prefill tiling: kTileN decoded rows × kTileChunkK columns of f32 is 64 KiB (L2), as in matmul.cc.
constexpr int64_t kTileN = 32;
constexpr int64_t kBlockM = 64;
constexpr int64_t kTileChunkK = 512;
#if HWY_TARGET <= HWY_AVX3
constexpr int kMR = 4;
constexpr int kNR = 4;
#else
constexpr int kMR = 3;
constexpr int kNR = 3;
#endif

// 2·e2m1(code) for the 16 codes, as a byte-shuffle table.
HWY_INLINE hn::Vec<DI8> Times2Table() { return hn::LoadU(DI8(), e2m1_times2_i8_table()); }

// The codes of 32 weights (two scale blocks) at packed[0:16) as 2·e2m1 int8 in k order:
// first = k 0..15 (block 0), second = k 16..31 (block 1).
HWY_INLINE void DecodePair(const uint8_t* HWY_RESTRICT packed, hn::Vec<DI8> table, hn::Vec<DI8>& first,
                           hn::Vec<DI8>& second) {
  const D8 d8;
  const auto bytes = hn::LoadU(d8, packed);
  const auto low = hn::And(bytes, hn::Set(d8, uint8_t{0x0F}));
  const auto high = hn::ShiftRight<4>(bytes);
  first = hn::TableLookupBytes(table, hn::BitCast(DI8(), hn::InterleaveLower(d8, low, high)));
  second = hn::TableLookupBytes(table, hn::BitCast(DI8(), hn::InterleaveUpper(d8, low, high)));
}

// Calls fn(v, w) for the 16/L f32 vectors w of one block, given as 16 int8 values (2·e2m1), each
// already multiplied by the block multiplier `scale`; v = 0 .. 16/L − 1 is the vector within the block.
template <typename Fn>
HWY_INLINE void ForEachBlockVector(hn::Vec<DI8> codes, hn::Vec<DF> scale, Fn fn) {
  const DF df;
  const DI32 di32;
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
  // One block per vector (AVX-512, 16 f32 lanes): Rebind<int8_t, DF> is exactly the 16-byte vector.
  (void)df;
  fn(0, hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di32, codes)), scale));
#else
  // Fewer lanes: split the 16 bytes through the stack (store-forwarded; L1 at worst).
  HWY_ALIGN int8_t lanes[16];
  hn::Store(codes, DI8(), lanes);
  const hn::Rebind<int8_t, DF> d8_l;
  const size_t L = hn::Lanes(df);
  for (size_t v = 0; v * L < 16; ++v) {
    fn(static_cast<int>(v), hn::Mul(hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(d8_l, lanes + v * L))), scale));
  }
#endif
}

// ue4m3/2 for one scale byte: exact (ue4m3 has 4 significant bits; halving it stays exact in f32).
HWY_INLINE float BlockMultiplier(uint8_t scale_byte) { return ue4m3_to_f32(scale_byte) * 0.5f; }

// Calls block(codes, k) for every 16-element block of row wrow (K/2 packed bytes), k = its first column.
template <typename Block>
HWY_INLINE void ForEachBlock(const uint8_t* HWY_RESTRICT wrow, int64_t K, Block block) {
  const auto table = Times2Table();
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    hn::Vec<DI8> first, second;
    DecodePair(wrow + k / 2, table, first, second);
    block(first, k);
    block(second, k + 16);
  }
  if (k < K) {  // K is a multiple of 16: one block is left; decode it from a zero-padded copy
    HWY_ALIGN uint8_t tail[16] = {};
    std::memcpy(tail, wrow + k / 2, 8);
    hn::Vec<DI8> first, second;
    DecodePair(tail, table, first, second);
    block(first, k);
  }
}

// out[g] = Σ_k x_g[k]·e2m1[n,k]·ue4m3[n,k/16] for G rows of x (stride K) against one W row (global
// scale not applied). wrow: K/2 packed bytes; srow: K/16 scale bytes. Two accumulators per x row,
// alternating by vector (consecutive vectors of the row), hide FMA latency.
template <int G>
HWY_INLINE void FusedRowNvfp4(const uint8_t* HWY_RESTRICT wrow, const uint8_t* HWY_RESTRICT srow, int64_t K,
                              const float* HWY_RESTRICT x, float* out) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  hn::Vec<DF> acc0[G], acc1[G];
  for (int g = 0; g < G; ++g) acc0[g] = acc1[g] = hn::Zero(df);
  ForEachBlock(wrow, K, [&](hn::Vec<DI8> codes, int64_t k) {
    ForEachBlockVector(codes, hn::Set(df, BlockMultiplier(srow[k / 16])), [&](int v, hn::Vec<DF> w) {
      const int64_t kv = k + v * L;
      if ((kv / L) % 2 == 0) {
        for (int g = 0; g < G; ++g) acc0[g] = hn::MulAdd(w, hn::LoadU(df, x + g * K + kv), acc0[g]);
      } else {
        for (int g = 0; g < G; ++g) acc1[g] = hn::MulAdd(w, hn::LoadU(df, x + g * K + kv), acc1[g]);
      }
    });
  });
  for (int g = 0; g < G; ++g) out[g] = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[g], acc1[g])));
}

// W[n, k0 : k0+len) as exact f32 e2m1·ue4m3 (no global scale) into out[0 : len); k0, len multiples of 16.
HWY_INLINE void DecodeRowChunk(const uint8_t* HWY_RESTRICT wrow, const uint8_t* HWY_RESTRICT srow, int64_t k0,
                               int64_t len, float* HWY_RESTRICT out) {
  const DF df;
  const int64_t L = static_cast<int64_t>(hn::Lanes(df));
  ForEachBlock(wrow + k0 / 2, len, [&](hn::Vec<DI8> codes, int64_t k) {
    ForEachBlockVector(codes, hn::Set(df, BlockMultiplier(srow[(k0 + k) / 16])),
                       [&](int v, hn::Vec<DF> w) { hn::StoreU(w, df, out + k + v * L); });
  });
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// AVX-512 decode kernel. The generic one above spends ~8 vector ops per 16 weights on the nibble
// interleave, widening and conversion, which caps it near 4.5 GB/s per core; this one needs ~4.5:
//   - x is reordered once per call so each 32-element chunk is [16 even k, 16 odd k] (SplitEvenOdd);
//     the 16 packed bytes of the chunk widened to int32 lanes then give the even codes (low nibbles)
//     and odd codes (high nibbles) in the lanes that meet their x, with no interleave;
//   - lanes 0..7 of either vector belong to block 0 of the chunk and lanes 8..15 to block 1, so one
//     32-entry two-table permute (VPERMT2PS) over [e2m1·s0 | e2m1·s1] decodes and scales at once,
//     exactly (e2m1·ue4m3 has at most 2 + 4 significant bits).
struct E2m1Table {
  alignas(64) float v[16];
};
constexpr E2m1Table MakeE2m1Table() {
  E2m1Table t{};
  for (int c = 0; c < 16; ++c) t.v[c] = e2m1_to_f32(static_cast<uint8_t>(c));
  return t;
}
constexpr E2m1Table kE2m1 = MakeE2m1Table();

// out[M][K]: each full 32-chunk of each x row as [even k, odd k]; a trailing 16-block stays in k order.
void SplitEvenOdd(const float* HWY_RESTRICT x, int64_t M, int64_t K, float* HWY_RESTRICT out) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const int64_t full = K / 32 * 32;
  for (int64_t m = 0; m < M; ++m) {
    const float* xr = x + m * K;
    float* o = out + m * K;
    for (int64_t c = 0; c < full; c += 32) {
      const __m512 a = _mm512_loadu_ps(xr + c);
      const __m512 b = _mm512_loadu_ps(xr + c + 16);
      _mm512_storeu_ps(o + c, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(o + c + 16, _mm512_permutex2var_ps(a, odd, b));
    }
    for (int64_t k = full; k < K; ++k) o[k] = xr[k];
  }
}

// out[r·G + g] = Σ_k x_g[k]·W[n_r,k] / global for G rows of split-order x (stride K) against R W rows
// (wrows[r], srows[r]). Each x load feeds R FMAs: at M = 4 the four split x rows (4·K floats) do not fit
// in L1, so x loads, not the weight stream, set the speed; R = 2 halves them.
template <int G, int R>
HWY_INLINE void FusedRowsNvfp4Avx512(const uint8_t* const* wrows, const uint8_t* const* srows, int64_t K,
                                     const float* HWY_RESTRICT xs, float* out) {
  const float* scale_decode = e4m3_decode_table();
  const __m512 e2m1 = _mm512_load_ps(kE2m1.v);
  const __m512i nibble = _mm512_set1_epi32(0x0F);
  // Bit 4 of a VPERMT2PS index picks the second table: lanes 8..15 hold block 1's codes.
  const __m512i second_block = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16, 16);
  __m512 acc_even[R][G], acc_odd[R][G];
  for (int r = 0; r < R; ++r) {
    for (int g = 0; g < G; ++g) acc_even[r][g] = acc_odd[r][g] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 32 <= K; k += 32) {
    __m512 w_even[R], w_odd[R];
    for (int r = 0; r < R; ++r) {
      const uint8_t* wp = wrows[r] + k / 2;
      _mm_prefetch(reinterpret_cast<const char*>(wp) + 1024, _MM_HINT_T0);
      const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wp)));
      // (bytes & 0x0F) | second_block in one ternary-logic op (0xEA = (A & B) | C).
      const __m512i idx_even = _mm512_ternarylogic_epi32(bytes, nibble, second_block, 0xEA);
      const __m512i idx_odd = _mm512_or_si512(_mm512_srli_epi32(bytes, 4), second_block);
      const __m512 table0 = _mm512_mul_ps(e2m1, _mm512_set1_ps(scale_decode[srows[r][k / 16]]));
      const __m512 table1 = _mm512_mul_ps(e2m1, _mm512_set1_ps(scale_decode[srows[r][k / 16 + 1]]));
      w_even[r] = _mm512_permutex2var_ps(table0, idx_even, table1);
      w_odd[r] = _mm512_permutex2var_ps(table0, idx_odd, table1);
    }
    for (int g = 0; g < G; ++g) {
      const __m512 x_even = _mm512_loadu_ps(xs + g * K + k);
      const __m512 x_odd = _mm512_loadu_ps(xs + g * K + k + 16);
      for (int r = 0; r < R; ++r) {
        acc_even[r][g] = _mm512_fmadd_ps(w_even[r], x_even, acc_even[r][g]);
        acc_odd[r][g] = _mm512_fmadd_ps(w_odd[r], x_odd, acc_odd[r][g]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    float tail[G] = {};
    if (k < K) {  // one 16-block left (K is a multiple of 16), x in k order: scalar
      const float s = scale_decode[srows[r][k / 16]];
      for (int i = 0; i < 16; ++i) {
        const uint8_t byte = wrows[r][(k + i) / 2];
        const float wv = kE2m1.v[i % 2 == 0 ? e2m1_even_code(byte) : e2m1_odd_code(byte)] * s;
        for (int g = 0; g < G; ++g) tail[g] += xs[g * K + k + i] * wv;
      }
    }
    for (int g = 0; g < G; ++g) {
      out[r * G + g] = _mm512_reduce_add_ps(_mm512_add_ps(acc_even[r][g], acc_odd[r][g])) + tail[g];
    }
  }
}
#endif

// out[g] = Σ_k x_g[k]·e2m1[n,k]·ue4m3[n,k/16] with this target's best row kernel; xs is x in the order
// that kernel reads (split order for AVX-512, else k order).
template <int G>
HWY_INLINE void RowDot(const uint8_t* HWY_RESTRICT wrow, const uint8_t* HWY_RESTRICT srow, int64_t K,
                       const float* HWY_RESTRICT xs, float* out) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  const uint8_t* wrows[1] = {wrow};
  const uint8_t* srows[1] = {srow};
  FusedRowsNvfp4Avx512<G, 1>(wrows, srows, K, xs, out);
#else
  FusedRowNvfp4<G>(wrow, srow, K, xs, out);
#endif
}

// Decode schedule (M <= kSmallM): each task owns a contiguous range of W rows.
void MatmulNvfp4F32SmallM(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  const float global = w.global_scale;
  // Memory-bound: tasks of at least ~16 KiB of weight so the prefetchers get going; up to 8 per thread
  // so a descheduled thread's share is taken over by the others.
  const int64_t tasks_wanted = std::clamp<int64_t>(N * detail::weight_row_bytes(w) / (16 * 1024),
                                                   int64_t{pool.size()}, int64_t{pool.size()} * 8);
  const int64_t rows_per_task = detail::split_size(N, tasks_wanted, 1);
  const int64_t tasks = (N + rows_per_task - 1) / rows_per_task;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // [M, K] x in split order (28 KiB per row at K = 7168), made once and read by every task.
  auto split = hwy::AllocateAligned<float>(static_cast<size_t>(M * K));
  SplitEvenOdd(x, M, K, split.get());
  const float* xs = split.get();
#else
  const float* xs = x;
#endif
  pool.parallel_for(tasks, [&](int64_t task, int) {
    const int64_t n_end = std::min(N, (task + 1) * rows_per_task);
    int64_t n = task * rows_per_task;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    // For M >= 2, pairs of W rows share each x load (FusedRowsNvfp4Avx512). At M = 1 x is one row
    // that stays in L1, and a single weight stream measured faster (1.00 vs 1.16 ms at 2048×7168 with
    // W ≫ LLC).
    for (; M >= 2 && n + 2 <= n_end; n += 2) {
      const uint8_t* wrows[2] = {data + n * (K / 2), data + (n + 1) * (K / 2)};
      const uint8_t* srows[2] = {w.block_scale + n * (K / 16), w.block_scale + (n + 1) * (K / 16)};
      float acc[2 * detail::kSmallM];
      switch (M) {
        case 2: FusedRowsNvfp4Avx512<2, 2>(wrows, srows, K, xs, acc); break;
        case 3: FusedRowsNvfp4Avx512<3, 2>(wrows, srows, K, xs, acc); break;
        default: FusedRowsNvfp4Avx512<4, 2>(wrows, srows, K, xs, acc); break;
      }
      for (int64_t r = 0; r < 2; ++r) {
        for (int64_t m = 0; m < M; ++m) y[m * N + n + r] = acc[r * M + m] * global;
      }
    }
#endif
    for (; n < n_end; ++n) {
      const uint8_t* wrow = data + n * (K / 2);
      const uint8_t* srow = w.block_scale + n * (K / 16);
      float acc[detail::kSmallM] = {};
      switch (M) {
        case 1: RowDot<1>(wrow, srow, K, xs, acc); break;
        case 2: RowDot<2>(wrow, srow, K, xs, acc); break;
        case 3: RowDot<3>(wrow, srow, K, xs, acc); break;
        default: RowDot<4>(wrow, srow, K, xs, acc); break;
      }
      for (int64_t m = 0; m < M; ++m) y[m * N + n] = acc[m] * global;
    }
  });
}

// Prefill schedule (M > kSmallM): tasks are (kTileN W rows) × (kBlockM x rows).
void MatmulNvfp4F32Tiled(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  const int64_t tiles_n = (N + kTileN - 1) / kTileN;
  const int64_t blocks_m = (M + kBlockM - 1) / kBlockM;
  pool.parallel_for(tiles_n * blocks_m, [&](int64_t task, int) {
    const int64_t n0 = (task % tiles_n) * kTileN;
    const int64_t m0 = (task / tiles_n) * kBlockM;
    const int64_t n_count = std::min(kTileN, N - n0);
    const int64_t m_end = std::min(M, m0 + kBlockM);
    HWY_ALIGN float panel[kTileN * kTileChunkK];  // [n_count, len] decoded e2m1·ue4m3
    const float* rows[kTileN];
    for (int64_t r = 0; r < n_count; ++r) rows[r] = panel + r * kTileChunkK;
    for (int64_t k0 = 0; k0 < K; k0 += kTileChunkK) {
      const int64_t len = std::min(kTileChunkK, K - k0);
      const bool first = k0 == 0;
      for (int64_t r = 0; r < n_count; ++r) {
        const int64_t n = n0 + r;
        DecodeRowChunk(data + n * (K / 2), w.block_scale + n * (K / 16), k0, len, panel + r * kTileChunkK);
      }
      SweepPanel<kMR, kNR>(x, K, k0, len, rows, n_count, m0, m_end, y, N, n0, first);
    }
    // The global scale, once per output.
    for (int64_t m = m0; m < m_end; ++m) {
      for (int64_t j = 0; j < n_count; ++j) y[m * N + n0 + j] *= w.global_scale;
    }
  });
}

void MatmulNvfp4F32(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  if (M <= detail::kSmallM) {
    MatmulNvfp4F32SmallM(pool, w, x, M, y);
  } else {
    MatmulNvfp4F32Tiled(pool, w, x, M, y);
  }
}

#else  // HWY_SCALAR: no 16-byte vectors; decode element by element (same numerics: exact weights, f32 sums)

void MatmulNvfp4F32(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  pool.parallel_for(N, [&](int64_t n, int) {
    for (int64_t m = 0; m < M; ++m) {
      float sum = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        const uint8_t byte = data[(n * K + k) / 2];
        const uint8_t code = k % 2 == 0 ? e2m1_even_code(byte) : e2m1_odd_code(byte);
        sum += x[m * K + k] * (e2m1_to_f32(code) * ue4m3_to_f32(w.block_scale[(n * K + k) / 16]));
      }
      y[m * N + n] = sum * w.global_scale;
    }
  });
}

#endif  // HWY_TARGET != HWY_SCALAR

}  // namespace fp4::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu::detail {

HWY_EXPORT(MatmulNvfp4F32);

void matmul_nvfp4_f32(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  HWY_DYNAMIC_DISPATCH(MatmulNvfp4F32)(pool, w, x, M, y);
}

}  // namespace fp4::cpu::detail

namespace fp4::cpu {

void matmul(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y, const MatmulOptions& options) {
  if (w.encoding != WeightEncoding::kNVFP4 || options.nvfp4_activations == ActivationPrecision::kInt8) {
    matmul(pool, w, x, M, y);  // the int8 NVFP4 path where the CPU has one, else the f32 kernels
    return;
  }
  check_weight(w, "matmul");
  FP4_CHECK(M >= 0, "matmul: M = {} rows of x must not be negative", M);
  if (M == 0) return;
  FP4_CHECK(x != nullptr && y != nullptr, "matmul: x or y is a null pointer (M = {})", M);
  detail::matmul_nvfp4_f32(pool, w, x, M, y);
}

}  // namespace fp4::cpu
#endif  // HWY_ONCE
