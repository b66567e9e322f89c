// NVFP4 y = x · Wᵀ with int8 dot products (AVX-512 VNNI, AVX-512BW, AVX2), straight from packed weights.
//
// Why int8: every E2M1 value times 2 is an integer in [-12, 12], so once an activation block is
// quantized to int8 the products Σ (2·e2m1)·q are exact integers and one VPDPBUSD instruction does 64
// multiply-adds. Per 16-element block (the NVFP4 scale block) the activation is quantized
// symmetrically: d = amax/127, q = round(x/d) in [-127, 127], so |x - q·d| <= d/2. This is the only
// approximation (the result differs from the f32 reference by at most Σ_blocks (d_b/2)·Σ_{k∈b}|W[n,k]|
// plus f32 rounding; docs/kernels.md and the tests use exactly this bound).
//
// Layout trick: a packed byte holds k even (low nibble) and k+1 (high nibble). Instead of interleaving
// the nibbles back into k order we reorder the activations once per call: for each chunk of 2·V
// elements (V = vector bytes) the quantized activations are stored as V bytes for the even k and V
// bytes for the odd k, so the low-nibble vector and the high-nibble vector each meet their partners
// at the same byte positions. Each 32-bit lane then sums 8 products of a single 16-element block
// (lane j of a chunk holds block j/2), so a lane-wise f32 scale vector applies both block scales.
//
// Unsigned x signed: VPDPBUSD / VPMADDUBSW multiply unsigned bytes by signed bytes, so weights are
// looked up as 2·e2m1 + 12 in [0, 24] and the surplus 12·Σq per lane is precomputed per activation
// chunk and used as the accumulator's starting value (negated).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fp4/backends/cpu/matmul_internal.h"
#include "fp4/base/formats.h"

// Also compile the AVX3_DL target (Ice Lake / Zen 4: AVX-512 VNNI, VBMI), which Highway 1.0 leaves
// out unless asked; it must be requested before the first Highway header.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/matmul_nvfp4.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/aligned_allocator.h"

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source of unmasked
// operations (cvtph2ps, cvtdq2ps, broadcast), which its own -Wuninitialized flags once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu::HWY_NAMESPACE {

#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX2

#if HWY_TARGET == HWY_AVX2
constexpr int kVecBytes = 32;
using VecI = __m256i;
using VecF = __m256;
#else
constexpr int kVecBytes = 64;
using VecI = __m512i;
using VecF = __m512;
#endif
// Highway's AVX3_DL target string names "avxvnni" (the VEX form) but VPDPBUSD on zmm registers needs
// avx512vnni; the kernels of that target add it (the CPU has it: AVX3_DL implies Ice Lake or newer).
#undef FP4_KERNEL_ATTR  // redefined for each target this file is compiled for
#if HWY_TARGET == HWY_AVX3_DL
#define FP4_KERNEL_ATTR __attribute__((target("avx512vnni")))
#else
#define FP4_KERNEL_ATTR
#endif

constexpr int kChunkK = 2 * kVecBytes;     // K elements per chunk (one vector of packed bytes)
constexpr int kLanes = kVecBytes / 4;      // int32 / f32 lanes per vector
constexpr int kBlocksPerChunk = kChunkK / 16;

// One chunk of one quantized activation row, in the order the kernel reads it.
struct alignas(kVecBytes) ActChunk {
  int8_t even[kVecBytes];      // q[k0 + 2i]
  int8_t odd[kVecBytes];       // q[k0 + 2i + 1]
  int32_t neg_surplus[kLanes]; // lane j: -12 · Σ_{i=4j}^{4j+3} (even[i] + odd[i])
  float scale[kLanes];         // lane j: d of block j/2 (0 past K)
};

// Quantizes one 16-element block x[0:16) into the chunk's arrays at block position b (scalar form,
// the definition; QuantizeBlock512 is the same computation vectorised).
HWY_INLINE void QuantizeBlockScalar(const float* HWY_RESTRICT x, int b, ActChunk& a) {
  float amax = 0.0f;
  for (int i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  int32_t sums[2] = {0, 0};
  for (int i = 0; i < 16; ++i) {
    // |x·inv| <= 127 up to one rounding, so the clamp only guards that last ulp.
    const int8_t q = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f));
    (i % 2 == 0 ? a.even : a.odd)[b * 8 + i / 2] = q;
    sums[i / 8] += q;  // lane 2b holds block elements 0..7, lane 2b+1 elements 8..15
  }
  a.neg_surplus[2 * b] = -12 * sums[0];
  a.neg_surplus[2 * b + 1] = -12 * sums[1];
  a.scale[2 * b] = d;
  a.scale[2 * b + 1] = d;
}

#if HWY_TARGET != HWY_AVX2
// The same as QuantizeBlockScalar with AVX-512 (cvtps rounds to nearest even, as nearbyint does in the
// default rounding mode; the saturating narrow plays the clamp's role).
HWY_INLINE void QuantizeBlock512(const float* HWY_RESTRICT x, int b, ActChunk& a) {
  const __m512 v = _mm512_loadu_ps(x);
  const float amax = _mm512_reduce_max_ps(_mm512_abs_ps(v));
  const float d = amax / 127.0f;
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  const __m128i q = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v, _mm512_set1_ps(inv))));
  // Even-index bytes to the low half, odd to the high half.
  const __m128i split = _mm_shuffle_epi8(q, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(a.even + b * 8), split);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(a.odd + b * 8), _mm_unpackhi_epi64(split, split));
  // Σ q over bytes 0..7 and 8..15: PSADBW sums unsigned bytes, so bias by 128 and remove 8·128.
  const __m128i sad = _mm_sad_epu8(_mm_xor_si128(q, _mm_set1_epi8(static_cast<char>(0x80))), _mm_setzero_si128());
  a.neg_surplus[2 * b] = -12 * (_mm_cvtsi128_si32(sad) - 1024);
  a.neg_surplus[2 * b + 1] = -12 * (_mm_extract_epi16(sad, 4) - 1024);
  a.scale[2 * b] = d;
  a.scale[2 * b + 1] = d;
}
#endif

// Quantizes x[0:K) into chunks[0:ceil(K/kChunkK)). K is a multiple of 16; the tail is zero-padded.
void QuantizeRow(const float* HWY_RESTRICT x, int64_t K, ActChunk* HWY_RESTRICT chunks) {
  const int64_t num_chunks = (K + kChunkK - 1) / kChunkK;
  for (int64_t c = 0; c < num_chunks; ++c) {
    ActChunk& a = chunks[c];
    const int64_t blocks = std::min<int64_t>(kBlocksPerChunk, (K - c * kChunkK) / 16);
    if (blocks < kBlocksPerChunk) std::memset(&a, 0, sizeof(a));
    for (int b = 0; b < blocks; ++b) {
#if HWY_TARGET == HWY_AVX2
      QuantizeBlockScalar(x + c * kChunkK + b * 16, b, a);
#else
      QuantizeBlock512(x + c * kChunkK + b * 16, b, a);
#endif
    }
  }
}

// 2·e2m1(code) + 12 for the 16 codes, as unsigned bytes (the weight operand of VPDPBUSD must be unsigned).
HWY_INLINE VecI WeightLut() {
  alignas(16) uint8_t lut[16];
  const int8_t* times2 = e2m1_times2_i8_table();
  for (int c = 0; c < 16; ++c) lut[c] = static_cast<uint8_t>(times2[c] + 12);
  const __m128i l = _mm_load_si128(reinterpret_cast<const __m128i*>(lut));
#if HWY_TARGET == HWY_AVX2
  return _mm256_broadcastsi128_si256(l);
#else
  return _mm512_broadcast_i32x4(l);
#endif
}

// The weight block scales of one chunk as f32 lanes (lane j = block j/2), times 2^-8: UE4M3 bits
// 0.eeee.mmm shifted left by 7 are the f16 with value ue4m3 · 2^-8, and F16C converts it exactly
// (including the subnormal scales). The caller folds 2^8 into the final constant.
FP4_KERNEL_ATTR HWY_INLINE VecF ScaleVector(const uint8_t* s) {
#if HWY_TARGET == HWY_AVX2
  uint32_t four;
  std::memcpy(&four, s, 4);
  const __m128i s32 = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(static_cast<int>(four)));
  const __m128i dup = _mm_slli_epi16(_mm_or_si128(s32, _mm_slli_epi32(s32, 16)), 7);
  return _mm256_cvtph_ps(dup);
#else
  const __m256i s32 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s)));
  const __m256i dup = _mm256_slli_epi16(_mm256_or_si256(s32, _mm256_slli_epi32(s32, 16)), 7);
  return _mm512_cvtph_ps(dup);
#endif
}

// Σ over one chunk of (2·e2m1 + 12)·q per lane, started at the negated surplus: the exact Σ 2·e2m1·q.
FP4_KERNEL_ATTR HWY_INLINE VecI ChunkDot(VecI w_even, VecI w_odd, const ActChunk& a) {
#if HWY_TARGET == HWY_AVX3_DL
  const VecI acc = _mm512_dpbusd_epi32(_mm512_load_si512(a.neg_surplus), w_even, _mm512_load_si512(a.even));
  return _mm512_dpbusd_epi32(acc, w_odd, _mm512_load_si512(a.odd));
#elif HWY_TARGET == HWY_AVX3
  // Pairwise u8·s8 sums are at most 2·24·127 = 6096, so the int16 sums (<= 12192) never saturate.
  const VecI p = _mm512_add_epi16(_mm512_maddubs_epi16(w_even, _mm512_load_si512(a.even)),
                                  _mm512_maddubs_epi16(w_odd, _mm512_load_si512(a.odd)));
  return _mm512_add_epi32(_mm512_madd_epi16(p, _mm512_set1_epi16(1)), _mm512_load_si512(a.neg_surplus));
#else
  const VecI p = _mm256_add_epi16(_mm256_maddubs_epi16(w_even, _mm256_load_si256(reinterpret_cast<const __m256i*>(a.even))),
                                  _mm256_maddubs_epi16(w_odd, _mm256_load_si256(reinterpret_cast<const __m256i*>(a.odd))));
  return _mm256_add_epi32(_mm256_madd_epi16(p, _mm256_set1_epi16(1)),
                          _mm256_load_si256(reinterpret_cast<const __m256i*>(a.neg_surplus)));
#endif
}

// Σ_k x_g[k]·W[n,k] / (2^8 · 2^-1) for G activation rows against one weight row: the caller multiplies
// by 128 · global_scale. wrow: K/2 packed bytes; srow: K/16 scale bytes; act[g]: the row's chunks.
template <int G>
FP4_KERNEL_ATTR void RowKernel(const uint8_t* HWY_RESTRICT wrow, const uint8_t* HWY_RESTRICT srow, int64_t K,
                               const ActChunk* const* act, float* sums) {
  const VecI lut = WeightLut();
  const int64_t full_chunks = K / kChunkK;
  const int64_t num_chunks = (K + kChunkK - 1) / kChunkK;
#if HWY_TARGET == HWY_AVX2
  const VecI nibble = _mm256_set1_epi8(0x0F);
  VecF acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
#else
  const VecI nibble = _mm512_set1_epi8(0x0F);
  VecF acc[G];
  for (int g = 0; g < G; ++g) acc[g] = _mm512_setzero_ps();
#endif
  alignas(kVecBytes) uint8_t tail_w[kVecBytes];
  alignas(16) uint8_t tail_s[2 * kBlocksPerChunk];
  int64_t c = 0;
#if HWY_TARGET != HWY_AVX2
  // Two chunks at a time: each 32-bit lane of a chunk's dot product covers half a scale block, so the
  // two chunks' lane pairs are summed into one lane per block (16 blocks = one vector) before the
  // conversion to f32 and the scaling, which halves the per-block f32 and scale-decode work.
  const __m512i pick_even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i pick_odd = _mm512_add_epi32(pick_even, _mm512_set1_epi32(1));
  for (; c + 2 <= num_chunks; c += 2) {
    const uint8_t* wp0 = wrow + c * kVecBytes;
    const uint8_t* wp1 = wp0 + kVecBytes;
    const uint8_t* sp = srow + c * kBlocksPerChunk;  // 16 scale bytes, block order
    _mm_prefetch(reinterpret_cast<const char*>(wp0) + 1024, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(wp0) + 1024 + 64, _MM_HINT_T0);
    if (c + 1 == full_chunks) {  // the second chunk is the partial last one: zero-pad it
      const int64_t valid = K - (c + 1) * kChunkK;
      std::memset(tail_w, 0, sizeof(tail_w));
      std::memset(tail_s, 0, sizeof(tail_s));
      std::memcpy(tail_w, wp1, static_cast<size_t>(valid / 2));
      std::memcpy(tail_s, sp, static_cast<size_t>(kBlocksPerChunk + valid / 16));
      wp1 = tail_w;
      sp = tail_s;
    }
    const VecI packed0 = _mm512_loadu_si512(wp0);
    const VecI packed1 = _mm512_loadu_si512(wp1);
    const VecI w_even0 = _mm512_shuffle_epi8(lut, _mm512_and_si512(packed0, nibble));
    const VecI w_odd0 = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(packed0, 4), nibble));
    const VecI w_even1 = _mm512_shuffle_epi8(lut, _mm512_and_si512(packed1, nibble));
    const VecI w_odd1 = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(packed1, 4), nibble));
    // 16 UE4M3 scales -> f32 lanes (block i in lane i), times 2^-8 as in ScaleVector.
    const VecF wscale = _mm512_cvtph_ps(
        _mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sp))), 7));
    for (int g = 0; g < G; ++g) {
      const ActChunk& a0 = act[g][c];
      const ActChunk& a1 = act[g][c + 1];
      const VecI d0 = ChunkDot(w_even0, w_odd0, a0);
      const VecI d1 = ChunkDot(w_even1, w_odd1, a1);
      const VecI blocks = _mm512_add_epi32(_mm512_permutex2var_epi32(d0, pick_even, d1),
                                           _mm512_permutex2var_epi32(d0, pick_odd, d1));
      const VecF ascale = _mm512_permutex2var_ps(_mm512_load_ps(a0.scale), pick_even, _mm512_load_ps(a1.scale));
      acc[g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(blocks), _mm512_mul_ps(wscale, ascale), acc[g]);
    }
  }
#endif
  for (; c < num_chunks; ++c) {
    const uint8_t* wp = wrow + c * kVecBytes;
    const uint8_t* sp = srow + c * kBlocksPerChunk;
    // Rows of a task are contiguous, so this runs ahead into the next row too; a prefetch past the end
    // of the weight is harmless (prefetches never fault).
    _mm_prefetch(reinterpret_cast<const char*>(wp) + 1024, _MM_HINT_T0);
    if (c == full_chunks) {  // the last, partial chunk: zero-pad (K is a multiple of 16, so whole blocks)
      const int64_t valid = K - c * kChunkK;
      std::memset(tail_w, 0, sizeof(tail_w));
      std::memset(tail_s, 0, sizeof(tail_s));
      std::memcpy(tail_w, wp, static_cast<size_t>(valid / 2));
      std::memcpy(tail_s, sp, static_cast<size_t>(valid / 16));
      wp = tail_w;
      sp = tail_s;
    }
#if HWY_TARGET == HWY_AVX2
    const VecI packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp));
    const VecI w_even = _mm256_shuffle_epi8(lut, _mm256_and_si256(packed, nibble));
    const VecI w_odd = _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(packed, 4), nibble));
    const VecF wscale = ScaleVector(sp);
    for (int g = 0; g < G; ++g) {
      const ActChunk& a = act[g][c];
      const VecF f = _mm256_cvtepi32_ps(ChunkDot(w_even, w_odd, a));
      acc[g] = _mm256_fmadd_ps(f, _mm256_mul_ps(wscale, _mm256_load_ps(a.scale)), acc[g]);
    }
#else
    const VecI packed = _mm512_loadu_si512(wp);
    const VecI w_even = _mm512_shuffle_epi8(lut, _mm512_and_si512(packed, nibble));
    const VecI w_odd = _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(packed, 4), nibble));
    const VecF wscale = ScaleVector(sp);
    for (int g = 0; g < G; ++g) {
      const ActChunk& a = act[g][c];
      const VecF f = _mm512_cvtepi32_ps(ChunkDot(w_even, w_odd, a));
      acc[g] = _mm512_fmadd_ps(f, _mm512_mul_ps(wscale, _mm512_load_ps(a.scale)), acc[g]);
    }
#endif
  }
  for (int g = 0; g < G; ++g) {
    alignas(kVecBytes) float lanes[kLanes];
#if HWY_TARGET == HWY_AVX2
    _mm256_store_ps(lanes, acc[g]);
#else
    _mm512_store_ps(lanes, acc[g]);
#endif
    float s = 0.0f;
    for (int j = 0; j < kLanes; ++j) s += lanes[j];
    sums[g] = s;
  }
}

// y[m, n] for m in [m0, m0 + G), n in [n0, n1).
template <int G>
FP4_KERNEL_ATTR void RowRange(const WeightView& w, const ActChunk* act, int64_t num_chunks, int64_t m0, int64_t n0,
                              int64_t n1, float* y) {
  const int64_t K = w.cols;
  const int64_t N = w.rows;
  const float out_scale = 128.0f * w.global_scale;  // 2^8 (scale trick) · 2^-1 (2·e2m1 lookup)
  const ActChunk* rows[G];
  for (int g = 0; g < G; ++g) rows[g] = act + (m0 + g) * num_chunks;
  const uint8_t* data = static_cast<const uint8_t*>(w.data);
  for (int64_t n = n0; n < n1; ++n) {
    float sums[G];
    RowKernel<G>(data + n * (K / 2), w.block_scale + n * (K / 16), K, rows, sums);
    for (int g = 0; g < G; ++g) y[(m0 + g) * N + n] = sums[g] * out_scale;
  }
}

void RowGroup(const WeightView& w, const ActChunk* act, int64_t num_chunks, int64_t m0, int64_t count, int64_t n0,
              int64_t n1, float* y) {
  switch (count) {
    case 1: RowRange<1>(w, act, num_chunks, m0, n0, n1, y); break;
    case 2: RowRange<2>(w, act, num_chunks, m0, n0, n1, y); break;
    case 3: RowRange<3>(w, act, num_chunks, m0, n0, n1, y); break;
    default: RowRange<4>(w, act, num_chunks, m0, n0, n1, y); break;
  }
}

bool MatmulNvfp4Int8(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  const int64_t num_chunks = (K + kChunkK - 1) / kChunkK;
  // [M, num_chunks] quantized activations: 2 bytes per element plus 2 lanes of metadata per block.
  auto act = hwy::AllocateAligned<ActChunk>(static_cast<size_t>(M * num_chunks));
  ActChunk* act_ptr = act.get();
  pool.parallel_for(M, [&](int64_t m, int) { QuantizeRow(x + m * K, K, act_ptr + m * num_chunks); });

  constexpr int64_t kGroup = 4;  // activation rows per weight-row pass (4 accumulators + temporaries)
  if (M <= kGroup) {
    // Decode: memory-bound. Each task streams a contiguous run of rows (at least ~16 KiB, so the hardware
    // prefetchers get going); up to 8 tasks per thread, because on a busy machine the slowest thread
    // sets the time of the whole call and small tasks let the others take over its share.
    const int64_t row_bytes = K / 2 + K / 16;
    const int64_t tasks_wanted =
        std::clamp<int64_t>(N * row_bytes / (16 * 1024), int64_t{pool.size()}, int64_t{pool.size()} * 8);
    const int64_t rows_per_task = detail::split_size(N, tasks_wanted, 1);
    const int64_t tasks = (N + rows_per_task - 1) / rows_per_task;
    pool.parallel_for(tasks, [&](int64_t task, int) {
      const int64_t n0 = task * rows_per_task;
      RowGroup(w, act_ptr, num_chunks, 0, M, n0, std::min(N, n0 + rows_per_task), y);
    });
    return true;
  }
  // Prefill: a tile of W rows (~128 KiB of packed weights, L2) is swept by every group of 4 activation
  // rows of a 64-row block (whose quantized chunks, ~2 bytes per element, stay in L1/L2 per group).
  const int64_t tile_n = std::clamp<int64_t>((128 * 1024) / (K / 2), 4, 256);
  constexpr int64_t kBlockM = 64;
  const int64_t tiles_n = (N + tile_n - 1) / tile_n;
  const int64_t blocks_m = (M + kBlockM - 1) / kBlockM;
  pool.parallel_for(tiles_n * blocks_m, [&](int64_t task, int) {
    const int64_t n0 = (task % tiles_n) * tile_n;
    const int64_t n1 = std::min(N, n0 + tile_n);
    const int64_t m0 = (task / tiles_n) * kBlockM;
    const int64_t m1 = std::min(M, m0 + kBlockM);
    for (int64_t m = m0; m < m1; m += kGroup) RowGroup(w, act_ptr, num_chunks, m, std::min(kGroup, m1 - m), n0, n1, y);
  });
  return true;
}

#else
bool MatmulNvfp4Int8(ThreadPool&, const WeightView&, const float*, int64_t, float*) { return false; }
#endif

}  // namespace fp4::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu::detail {

HWY_EXPORT(MatmulNvfp4Int8);

bool matmul_nvfp4_int8(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y) {
  return HWY_DYNAMIC_DISPATCH(MatmulNvfp4Int8)(pool, w, x, M, y);
}

}  // namespace fp4::cpu::detail
#endif  // HWY_ONCE
