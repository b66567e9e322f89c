// Pieces shared by the decode GEMV kernels (NVFP4 and FP8 block): the activation tile in shared memory
// and the cross-thread reduction of each row's partial sums.
//
// Work split: a block of 256 threads holds 256/TPR groups of TPR threads; a group owns kGemvRowsPerThread
// consecutive weight rows and walks K in tiles of U·TPR chunks (U = gemv_chunks_per_thread(M)) (the thread's chunks of a
// tile are TPR apart, so each load instruction of a warp covers one contiguous 512-byte span), so every
// thread has rows × chunks independent 16-byte weight loads of the next tile in flight while it computes
// the current one. The activations of the current tile sit in shared memory as f32 (bf16 inputs are
// widened while staging, exactly); each chunk is padded by 4 floats so that the 16-byte reads of a
// quarter-warp, one chunk per lane, land in distinct banks.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "device_utils.cuh"

namespace fp4::cuda::detail {

constexpr int kGemvThreads = 256;
constexpr int kGemvRowsPerThread = 2;
// Chunks per row per tile: two while the activation tile stays small (M ≤ 4), else one.
constexpr int gemv_chunks_per_thread(int M) { return M <= 4 ? 2 : 1; }
// Two resident blocks per SM at least: caps registers at 128 so a small-N GEMV still covers every SM.
constexpr int kGemvMinBlocksPerSm = 2;
constexpr int kGemvSmemBudget = 48 * 1024;  // static shared memory limit per block

// Largest threads-per-row (a power of two in [32, 256]) whose activation tile fits the budget.
// codes_per_chunk: activations consumed per chunk.
constexpr int gemv_max_tpr(int M, int codes_per_chunk) {
  int tpr = 256;
  while (tpr > 32 && M * tpr * gemv_chunks_per_thread(M) * (codes_per_chunk + 4) * 4 > kGemvSmemBudget) {
    tpr /= 2;
  }
  return tpr;
}

template <int kM, int kTpr, int kCodes>
struct GemvTile {
  static constexpr int kGroups = kGemvThreads / kTpr;
  static constexpr int kRowsPerBlock = kGroups * kGemvRowsPerThread;
  static constexpr int kU = gemv_chunks_per_thread(kM);       // chunks per thread per row per tile
  static constexpr int kTileChunks = kTpr * kU;              // chunks per row per tile
  static constexpr int kTileCodes = kTileChunks * kCodes;    // activations per row per tile
  static constexpr int kChunkStride = kCodes + 4;            // floats per padded chunk in shared memory
  static constexpr int kRowStride = kTileChunks * kChunkStride;  // floats per activation row
  static constexpr int kQuads = kM * kTileCodes / 4;         // float4 stores to stage one tile
  static constexpr int kQuadsPerThread = (kQuads + kGemvThreads - 1) / kGemvThreads;
  static_assert(kM * kRowStride * 4 <= kGemvSmemBudget, "activation tile exceeds shared memory budget");
};

__device__ __forceinline__ float4 load_x4(const float* p) { return *reinterpret_cast<const float4*>(p); }
__device__ __forceinline__ float4 load_x4(const __nv_bfloat16* p) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  return make_float4(bf16_lo(u.x), bf16_hi(u.x), bf16_lo(u.y), bf16_hi(u.y));
}

// Loads the activation tile starting at column k0 into registers (zero beyond K).
template <int kM, int kTpr, int kCodes, typename XT>
__device__ __forceinline__ void gemv_load_x_tile(const XT* __restrict__ x, int K, int k0,
                                                 float4 (&staged)[GemvTile<kM, kTpr, kCodes>::kQuadsPerThread]) {
  using T = GemvTile<kM, kTpr, kCodes>;
#pragma unroll
  for (int i = 0; i < T::kQuadsPerThread; ++i) {
    const int quad = static_cast<int>(threadIdx.x) + i * kGemvThreads;
    staged[i] = make_float4(0.f, 0.f, 0.f, 0.f);
    if (quad < T::kQuads) {
      const int m = quad / (T::kTileCodes / 4);
      const int k = k0 + (quad % (T::kTileCodes / 4)) * 4;
      if (k < K) staged[i] = load_x4(x + static_cast<int64_t>(m) * K + k);
    }
  }
}

template <int kM, int kTpr, int kCodes>
__device__ __forceinline__ void gemv_store_x_tile(float* xs,
                                                  const float4 (&staged)[GemvTile<kM, kTpr, kCodes>::kQuadsPerThread]) {
  using T = GemvTile<kM, kTpr, kCodes>;
#pragma unroll
  for (int i = 0; i < T::kQuadsPerThread; ++i) {
    const int quad = static_cast<int>(threadIdx.x) + i * kGemvThreads;
    if (quad < T::kQuads) {
      const int m = quad / (T::kTileCodes / 4);
      const int kk = (quad % (T::kTileCodes / 4)) * 4;
      *reinterpret_cast<float4*>(xs + m * T::kRowStride + (kk / kCodes) * T::kChunkStride + kk % kCodes) =
          staged[i];
    }
  }
}

// Sums acc over the kTpr threads of each group and writes y[m, row] = sum · out_scale for the group's
// kRows rows that exist. red: shared scratch of kGemvThreads/32 · kRows · kM floats.
template <int kM, int kTpr, int kRows = kGemvRowsPerThread>
__device__ __forceinline__ void gemv_reduce_store(float (&acc)[kRows][kM], float* red, int block_row0, int N,
                                                  float out_scale, float* __restrict__ y) {
  constexpr int kValues = kRows * kM;
  constexpr int kWarpsPerGroup = kTpr / kWarpSize;
  constexpr int kGroups = kGemvThreads / kTpr;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int m = 0; m < kM; ++m) {
      float v = acc[r][m];
#pragma unroll
      for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
      if (lane == 0) red[warp * kValues + r * kM + m] = v;
    }
  }
  __syncthreads();
  const int tid = static_cast<int>(threadIdx.x);
  if (tid < kGroups * kValues) {
    const int group = tid / kValues;
    const int value = tid % kValues;
    float sum = 0.f;
#pragma unroll
    for (int i = 0; i < kWarpsPerGroup; ++i) sum += red[(group * kWarpsPerGroup + i) * kValues + value];
    const int r = value / kM;
    const int m = value % kM;
    const int row = block_row0 + group * kRows + r;
    if (row < N) y[static_cast<int64_t>(m) * N + row] = sum * out_scale;
  }
}

// Threads per row for a GEMV over N rows of `chunks` chunks: 32, widened only while the grid would leave SMs
// idle, and never beyond what a row has chunks for, the tile budget allows, or 128. Why so narrow: every
// block re-reads the activations of its K range from L2, so more threads per row (fewer rows per block)
// means more L2 traffic and staging per weight byte; on an H200 every wider choice measured slower.
inline int gemv_pick_tpr(int N, int chunks, int chunks_per_thread, int sm_count, int max_tpr) {
  int tpr = 32;
  while (tpr < max_tpr && tpr < 128 && tpr * chunks_per_thread < chunks) {
    const int rows_per_block = (kGemvThreads / tpr) * kGemvRowsPerThread;
    const int blocks = (N + rows_per_block - 1) / rows_per_block;
    if (blocks >= sm_count) break;
    tpr *= 2;
  }
  return tpr;
}

}  // namespace fp4::cuda::detail
