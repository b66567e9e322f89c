// The tensor-core matmul shared by NVFP4 and FP8 block weights: y[M, N] = x[M, K] · Wᵀ with x in BF16
// and W dequantised to BF16 in registers, mma.sync m16n8k16 (BF16 in, f32 accumulate).
//
// Block tile kBM × kBN over k-tiles of 64, a kStages-deep cp.async pipeline in shared memory:
//   A (activations): kBM rows × 128 bytes, 16-byte chunks XOR-swizzled by (row & 7) so ldmatrix is
//     conflict-free;
//   B (weights, as stored): kBN rows × 32 bytes of packed E2M1 (NVFP4) or 64 bytes of E4M3 (FP8, rows
//     padded to 80 bytes so the per-lane 4-byte reads hit distinct banks);
//   NVFP4 only: kBN rows × 4 UE4M3 scale bytes (one per 16 k of the tile).
//
// The B fragment trick. mma.m16n8k16 wants, in thread (g = lane/4, q = lane%4), B[k][n=g] for
// k ∈ {2q, 2q+1} in register b0 and k ∈ {2q+8, 2q+9} in b1. The codes for k and k+8 of one row sit in
// two bytes that a single byte-permute brings 16 bits apart, and then ONE shift-and-mask turns both into
// the two halves of a bf16x2. So the kernel builds b0' = (k=2q, k=2q+8) and b1' = (k=2q+1, k=2q+9); the
// MMA only sums over k, so pairing A the same way (a0' = (A[g][2q], A[g][2q+8]) etc., four byte-permutes
// per A fragment, shared by every n-tile) gives the same dot products.
//
// Decoding (exact; docs/cuda.md):
//   E2M1: magnitude bits to bf16 bits 8..6, sign to bit 15 → e2m1 · 2^-126 (code 1 is a bf16 subnormal);
//         times bf16(ue4m3 · 2^119) → e2m1 · ue4m3 · 2^-7, exact in bf16 (≤ 6 significant bits, ≥ 2^-17);
//         the 2^7 goes into the output scale.
//   E4M3: magnitude bits to bf16 bits 10..4, sign to bit 15 → e4m3 · 2^-120; times bf16(2^113) → e4m3 · 2^-7.
//         The f32 block multiplier (constant over a kBN × 64 tile because kBN | 128 | block_rows and
//         64 | block_cols)
//         is applied in f32 to each k-tile's sum, then the 2^7 in the output scale.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "device_utils.cuh"

namespace fp4::cuda::detail {

constexpr int kMmaTileK = 64;

struct MmaParams {
  const uint8_t* w = nullptr;
  const uint8_t* scales = nullptr;     // NVFP4: UE4M3 [N, K/16]
  const float* scale_inv = nullptr;    // FP8: f32 [ceil(N/block_rows), ceil(K/block_cols)]
  int block_rows = 128;
  int block_cols = 128;
  const __nv_bfloat16* x = nullptr;    // [M, K]
  int M = 0;
  int N = 0;
  int K = 0;
  int ktiles = 0;                      // ceil(K / 64)
  float out_scale = 1.0f;              // applied to the final sum (global scale · 2^7)
  float* y = nullptr;                  // [M, N]
  float* partial = nullptr;            // [split, M, N] when gridDim.z > 1
};

template <bool kFp8>
struct MmaFormat {
  static constexpr int kRowBytes = kFp8 ? 64 : 32;       // weight bytes per row per k-tile
  static constexpr int kRowStride = kFp8 ? 80 : 32;      // in shared memory
  static constexpr int kScaleBytes = kFp8 ? 0 : 4;       // per row per k-tile
};

template <int kBM, int kBN, int kWarpsM, int kWarpsN, int kStages, bool kFp8>
struct MmaConfig {
  using Format = MmaFormat<kFp8>;
  static constexpr int kTileM = kBM;
  static constexpr int kTileN = kBN;
  static constexpr int kThreads = 32 * kWarpsM * kWarpsN;
  static constexpr int kWM = kBM / kWarpsM;
  static constexpr int kWN = kBN / kWarpsN;
  static constexpr int kMT = kWM / 16;
  static constexpr int kNT = kWN / 8;
  static constexpr int kABytes = kBM * kMmaTileK * 2;
  static constexpr int kBBytes = kBN * Format::kRowStride;
  static constexpr int kSBytes = kBN * Format::kScaleBytes;
  static constexpr int kStageBytes = kABytes + kBBytes + kSBytes;
  static constexpr int kSmemBytes = kStages * kStageBytes;
  static_assert(kMT >= 1 && kNT >= 1 && kWM % 16 == 0 && kWN % 8 == 0, "bad warp tile");
  static_assert(kStageBytes % 16 == 0, "stages must stay 16-byte aligned");
};

// Issues one stage's cp.async copies. The (row, chunk) pairs a thread copies are the same for every
// k-tile, so their source pointers, destinations and row checks are computed once per block (init) and each
// stage only adds the k-tile's byte offset; the per-stage work is a few adds per copy.
template <class Cfg, bool kFp8>
struct MmaStageLoader {
  using Format = MmaFormat<kFp8>;
  static constexpr int kChunksPerRow = Format::kRowBytes / 16;
  static constexpr int kA = (Cfg::kTileM * 8 + Cfg::kThreads - 1) / Cfg::kThreads;
  static constexpr int kB = (Cfg::kTileN * kChunksPerRow + Cfg::kThreads - 1) / Cfg::kThreads;

  const __nv_bfloat16* a_src[kA];  // row start + chunk column; nullptr: no copy (beyond the tile)
  int a_dst[kA];                   // byte offset in the stage (swizzled)
  int a_col[kA];                   // element column within the k-tile
  bool a_row_ok[kA];
  const uint8_t* b_src[kB];
  int b_dst[kB];
  int b_col[kB];                   // byte column within the k-tile
  bool b_row_ok[kB];
  const uint8_t* s_src;
  bool s_row_ok;
  bool s_copy;

  __device__ __forceinline__ void init(const MmaParams& p, int m0, int n0) {
    const int tid = static_cast<int>(threadIdx.x);
#pragma unroll
    for (int i = 0; i < kA; ++i) {
      const int idx = tid + i * Cfg::kThreads;
      const int row = idx / 8;
      const int c = idx % 8;
      const bool exists = idx < Cfg::kTileM * 8;
      a_row_ok[i] = exists && m0 + row < p.M;
      a_src[i] = exists ? p.x + static_cast<int64_t>(a_row_ok[i] ? m0 + row : 0) * p.K + c * 8 : nullptr;
      a_dst[i] = (row * kMmaTileK + ((c ^ (row & 7)) * 8)) * 2;
      a_col[i] = c * 8;
    }
    const int64_t w_row_bytes = kFp8 ? p.K : p.K / 2;
#pragma unroll
    for (int i = 0; i < kB; ++i) {
      const int idx = tid + i * Cfg::kThreads;
      const int row = idx / kChunksPerRow;
      const int c = idx % kChunksPerRow;
      const bool exists = idx < Cfg::kTileN * kChunksPerRow;
      b_row_ok[i] = exists && n0 + row < p.N;
      b_src[i] = exists ? p.w + static_cast<int64_t>(b_row_ok[i] ? n0 + row : 0) * w_row_bytes + c * 16 : nullptr;
      b_dst[i] = Cfg::kABytes + row * Format::kRowStride + c * 16;
      b_col[i] = c * 16;
    }
    s_copy = !kFp8 && tid < Cfg::kTileN;
    s_row_ok = s_copy && n0 + tid < p.N;
    s_src = kFp8 ? nullptr : p.scales + static_cast<int64_t>(s_row_ok ? n0 + tid : 0) * (p.K / 16);
  }

  __device__ __forceinline__ void load(const MmaParams& p, uint8_t* stage, int kt) const {
    const int k0 = kt * kMmaTileK;
#pragma unroll
    for (int i = 0; i < kA; ++i) {
      if (a_src[i] == nullptr) continue;
      const bool valid = a_row_ok[i] && k0 + a_col[i] < p.K;
      cp_async_16(stage + a_dst[i], valid ? a_src[i] + k0 : p.x, valid ? 16 : 0);
    }
    const int kb0 = kFp8 ? k0 : k0 / 2;
    const int w_row_bytes = kFp8 ? p.K : p.K / 2;
#pragma unroll
    for (int i = 0; i < kB; ++i) {
      if (b_src[i] == nullptr) continue;
      const bool valid = b_row_ok[i] && kb0 + b_col[i] < w_row_bytes;
      cp_async_16(stage + b_dst[i], valid ? b_src[i] + kb0 : p.w, valid ? 16 : 0);
    }
    if constexpr (!kFp8) {
      if (s_copy) {
        cp_async_4(stage + Cfg::kABytes + Cfg::kBBytes + threadIdx.x * 4, s_row_ok ? s_src + k0 / 16 : p.scales,
                   s_row_ok ? 4 : 0);
      }
    }
  }
};

// Turns the two stored bytes of k = 2q(+1) and k = 2q+8(+9), brought to bytes 0 and 2 of v, into bf16x2
// halves: see the header comment.
__device__ __forceinline__ uint32_t e2m1_pair_to_bf16x2(uint32_t v_shifted_lo_nibbles) {
  const uint32_t v = v_shifted_lo_nibbles;
  return ((v << 6) & 0x01C001C0u) | ((v << 12) & 0x80008000u);
}
__device__ __forceinline__ uint32_t e4m3_pair_to_bf16x2(uint32_t v) {
  return ((v << 4) & 0x07F007F0u) | ((v << 8) & 0x80008000u);
}

template <int kBM, int kBN, int kWarpsM, int kWarpsN, int kStages, bool kFp8>
__global__ void __launch_bounds__(32 * kWarpsM * kWarpsN)
    mma_matmul_kernel(const MmaParams p) {
  using Cfg = MmaConfig<kBM, kBN, kWarpsM, kWarpsN, kStages, kFp8>;
  extern __shared__ __align__(128) uint8_t smem[];

  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int warp_m = warp % kWarpsM;
  const int warp_n = warp / kWarpsM;
  const int g = lane / 4;
  const int q = lane % 4;
  const int n0 = static_cast<int>(blockIdx.x) * kBN;
  const int m0 = static_cast<int>(blockIdx.y) * kBM;
  const int split = static_cast<int>(gridDim.z);
  const int z = static_cast<int>(blockIdx.z);
  const int kt_begin = static_cast<int>((static_cast<int64_t>(p.ktiles) * z) / split);
  const int kt_end = static_cast<int>((static_cast<int64_t>(p.ktiles) * (z + 1)) / split);
  const int ktiles = kt_end - kt_begin;

  float acc[Cfg::kMT][Cfg::kNT][4];
#pragma unroll
  for (int i = 0; i < Cfg::kMT; ++i)
#pragma unroll
    for (int j = 0; j < Cfg::kNT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.f;

  MmaStageLoader<Cfg, kFp8> loader;
  loader.init(p, m0, n0);
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) loader.load(p, smem + s * Cfg::kStageBytes, kt_begin + s);
    cp_async_commit();
  }

  // Byte selectors: NVFP4 takes byte q of the two words of a k16 step; FP8 takes bytes 2(q%2) (+1) of the
  // words holding k = 2q and k = 2q+8.
  const uint32_t sel_nvfp4 = static_cast<uint32_t>(q | (q << 4) | ((q + 4) << 8) | ((q + 4) << 12));
  const uint32_t fb = static_cast<uint32_t>(2 * (q % 2));
  const uint32_t sel_fp8_even = fb | ((fb + 4) << 8);
  const uint32_t sel_fp8_odd = (fb + 1) | ((fb + 5) << 8);
  const __nv_bfloat162 fp8_unbias = __floats2bfloat162_rn(0x1p113f, 0x1p113f);

  for (int i = 0; i < ktiles; ++i) {
    cp_async_wait<kStages - 2>();
    __syncthreads();
    {
      const int pf = i + kStages - 1;
      if (pf < ktiles) loader.load(p, smem + (pf % kStages) * Cfg::kStageBytes, kt_begin + pf);
      cp_async_commit();
    }
    const uint8_t* stage = smem + (i % kStages) * Cfg::kStageBytes;
    const __nv_bfloat16* a_s = reinterpret_cast<const __nv_bfloat16*>(stage);
    const uint8_t* b_s = stage + Cfg::kABytes;

    // NVFP4: the 4 block scales of each n-tile row, as bf16x2(ue4m3 · 2^119), and the row's 32 code bytes
    // of this k-tile, read up front so the shared-memory latency overlaps the first MMAs.
    uint32_t scale2[Cfg::kNT][4];
    [[maybe_unused]] uint4 codes_lo[kFp8 ? 1 : Cfg::kNT];
    [[maybe_unused]] uint4 codes_hi[kFp8 ? 1 : Cfg::kNT];
    if constexpr (!kFp8) {
      const uint8_t* s_s = b_s + Cfg::kBBytes;
#pragma unroll
      for (int j = 0; j < Cfg::kNT; ++j) {
        const int row = warp_n * Cfg::kWN + j * 8 + g;
        codes_lo[j] = *reinterpret_cast<const uint4*>(b_s + row * MmaFormat<kFp8>::kRowStride);
        codes_hi[j] = *reinterpret_cast<const uint4*>(b_s + row * MmaFormat<kFp8>::kRowStride + 16);
        const uint32_t codes = *reinterpret_cast<const uint32_t*>(s_s + row * 4);
        const float2 s01 = decode_e4m3x2(static_cast<uint16_t>(codes & 0xFFFFu));
        const float2 s23 = decode_e4m3x2(static_cast<uint16_t>(codes >> 16));
        scale2[j][0] = bf16x2_bits(__float2bfloat162_rn(s01.x * 0x1p119f));
        scale2[j][1] = bf16x2_bits(__float2bfloat162_rn(s01.y * 0x1p119f));
        scale2[j][2] = bf16x2_bits(__float2bfloat162_rn(s23.x * 0x1p119f));
        scale2[j][3] = bf16x2_bits(__float2bfloat162_rn(s23.y * 0x1p119f));
      }
    }

    float tile_acc[kFp8 ? Cfg::kMT : 1][kFp8 ? Cfg::kNT : 1][4];
    if constexpr (kFp8) {
#pragma unroll
      for (int mt = 0; mt < Cfg::kMT; ++mt)
#pragma unroll
        for (int j = 0; j < Cfg::kNT; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) tile_acc[mt][j][e] = 0.f;
    }

#pragma unroll
    for (int s = 0; s < kMmaTileK / 16; ++s) {
      uint32_t a[Cfg::kMT][4];
#pragma unroll
      for (int mt = 0; mt < Cfg::kMT; ++mt) {
        const int row = warp_m * Cfg::kWM + mt * 16 + (lane & 15);
        const int chunk = 2 * s + (lane >> 4);
        uint32_t r[4];
        ldmatrix_x4(r, a_s + row * kMmaTileK + ((chunk ^ (row & 7)) * 8));
        a[mt][0] = __byte_perm(r[0], r[2], 0x5410);
        a[mt][2] = __byte_perm(r[0], r[2], 0x7632);
        a[mt][1] = __byte_perm(r[1], r[3], 0x5410);
        a[mt][3] = __byte_perm(r[1], r[3], 0x7632);
      }
#pragma unroll
      for (int j = 0; j < Cfg::kNT; ++j) {
        uint32_t b0;
        uint32_t b1;
        if constexpr (kFp8) {
          const int row = warp_n * Cfg::kWN + j * 8 + g;
          const uint8_t* brow = b_s + row * MmaFormat<kFp8>::kRowStride;
          const uint32_t w0 = *reinterpret_cast<const uint32_t*>(brow + 16 * s + 4 * (q / 2));
          const uint32_t w1 = *reinterpret_cast<const uint32_t*>(brow + 16 * s + 8 + 4 * (q / 2));
          const __nv_bfloat162 e = as_bf16x2(e4m3_pair_to_bf16x2(__byte_perm(w0, w1, sel_fp8_even)));
          const __nv_bfloat162 o = as_bf16x2(e4m3_pair_to_bf16x2(__byte_perm(w0, w1, sel_fp8_odd)));
          b0 = bf16x2_bits(__hmul2(e, fp8_unbias));
          b1 = bf16x2_bits(__hmul2(o, fp8_unbias));
        } else {
          // Words 2s and 2s+1 of the row's 8: s = 0, 1 in the low 16 bytes, s = 2, 3 in the high.
          const uint4& half = s < 2 ? codes_lo[j] : codes_hi[j];
          const uint32_t w0 = (s % 2 == 0) ? half.x : half.z;
          const uint32_t w1 = (s % 2 == 0) ? half.y : half.w;
          const uint32_t v = __byte_perm(w0, w1, sel_nvfp4);
          const __nv_bfloat162 sc = as_bf16x2(scale2[j][s]);
          b0 = bf16x2_bits(__hmul2(as_bf16x2(e2m1_pair_to_bf16x2(v)), sc));
          b1 = bf16x2_bits(__hmul2(as_bf16x2(e2m1_pair_to_bf16x2(v >> 4)), sc));
        }
#pragma unroll
        for (int mt = 0; mt < Cfg::kMT; ++mt) {
          if constexpr (kFp8) {
            mma_bf16_16816(tile_acc[mt][j], a[mt], b0, b1);
          } else {
            mma_bf16_16816(acc[mt][j], a[mt], b0, b1);
          }
        }
      }
    }
    if constexpr (kFp8) {
      const int k0 = (kt_begin + i) * kMmaTileK;
      const int scale_cols = (p.K + p.block_cols - 1) / p.block_cols;
      const float tile_scale = p.scale_inv[static_cast<int64_t>(n0 / p.block_rows) * scale_cols + k0 / p.block_cols];
#pragma unroll
      for (int mt = 0; mt < Cfg::kMT; ++mt)
#pragma unroll
        for (int j = 0; j < Cfg::kNT; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[mt][j][e] = fmaf(tile_acc[mt][j][e], tile_scale, acc[mt][j][e]);
    }
  }
  cp_async_wait<0>();

  // Epilogue: c0,c1 at (row g, cols 2q, 2q+1), c2,c3 at row g+8.
  float* out = split > 1 ? p.partial + static_cast<int64_t>(z) * p.M * p.N : p.y;
  const float scale = split > 1 ? 1.0f : p.out_scale;
#pragma unroll
  for (int mt = 0; mt < Cfg::kMT; ++mt) {
#pragma unroll
    for (int j = 0; j < Cfg::kNT; ++j) {
      const int col = n0 + warp_n * Cfg::kWN + j * 8 + 2 * q;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = m0 + warp_m * Cfg::kWM + mt * 16 + g + 8 * half;
        if (row >= p.M) continue;
        float* dst = out + static_cast<int64_t>(row) * p.N + col;
        if (col < p.N) dst[0] = acc[mt][j][2 * half] * scale;
        if (col + 1 < p.N) dst[1] = acc[mt][j][2 * half + 1] * scale;
      }
    }
  }
}

// y[i] = out_scale · Σ_z partial[z][i] for i < count, summed in slice order (deterministic). mma_reduce.cu.
cudaError_t launch_mma_reduce(const float* partial, int split, int64_t count, float out_scale, float* y,
                              cudaStream_t stream);

// Launches one configuration of mma_matmul_kernel over plan.split K slices.
template <int kBM, int kBN, int kWarpsM, int kWarpsN, int kStages, bool kFp8>
cudaError_t launch_mma_config(const MmaParams& p, int split, cudaStream_t stream) {
  using Cfg = MmaConfig<kBM, kBN, kWarpsM, kWarpsN, kStages, kFp8>;
  auto kernel = mma_matmul_kernel<kBM, kBN, kWarpsM, kWarpsN, kStages, kFp8>;
  cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes);
  if (err != cudaSuccess) return err;
  const dim3 grid((p.N + kBN - 1) / kBN, (p.M + kBM - 1) / kBM, split);
  kernel<<<grid, Cfg::kThreads, Cfg::kSmemBytes, stream>>>(p);
  err = cudaGetLastError();
  if (err != cudaSuccess || split == 1) return err;
  return launch_mma_reduce(p.partial, split, static_cast<int64_t>(p.M) * p.N, p.out_scale, p.y, stream);
}

}  // namespace fp4::cuda::detail
