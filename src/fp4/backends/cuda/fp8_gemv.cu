// FP8 block (DeepSeek) decode GEMV, 1 ≤ M ≤ 8: y[M, N] = x[M, K] · Wᵀ with W as E4M3 [N, K] and f32
// multipliers per block_rows × block_cols block. Same structure as the NVFP4 GEMV (gemv_common.cuh):
// one 16-byte streaming load per thread per row per tile = 16 codes inside one scale block, so
//   part = Σ_{16} x_k · e4m3_k      (hardware e4m3x2 → f16x2 conversion, exact; f32 FMAs)
//   acc += part · block_multiplier  (one f32 FMA)
// Error bound as for NVFP4: d = K/16 + 31 roundings per term, |y − y_exact| ≤ γ_d · Σ|x_k·w_k|.
#include <cuda_bf16.h>

#include <cstdint>

#include "device_utils.cuh"
#include "gemv_common.cuh"
#include "kernels.h"

namespace fp4::cuda::detail {
namespace {

constexpr int kFp8Codes = 16;

template <int kM, int kTpr, typename XT>
__global__ void __launch_bounds__(kGemvThreads, kGemvMinBlocksPerSm) fp8_gemv_kernel(const uint8_t* __restrict__ w,
                                                                 const float* __restrict__ scale_inv, int block_rows,
                                                                 int block_cols, const XT* __restrict__ x,
                                                                 float* __restrict__ y, int N, int K) {
  constexpr int kR = kGemvRowsPerThread;
  using Tile = GemvTile<kM, kTpr, kFp8Codes>;
  __shared__ __align__(16) float xs[kM * Tile::kRowStride];
  __shared__ float red[(kGemvThreads / kWarpSize) * kR * kM];

  const int t = static_cast<int>(threadIdx.x) % kTpr;
  const int group = static_cast<int>(threadIdx.x) / kTpr;
  const int block_row0 = static_cast<int>(blockIdx.x) * Tile::kRowsPerBlock;
  const int row0 = block_row0 + group * kR;
  const int chunks = K / kFp8Codes;
  const int tiles = (chunks + Tile::kTileChunks - 1) / Tile::kTileChunks;
  const int scale_cols = (K + block_cols - 1) / block_cols;

  const uint8_t* wrow[kR];
  const float* srow[kR];
#pragma unroll
  for (int r = 0; r < kR; ++r) {
    const int64_t n = min(row0 + r, N - 1);
    wrow[r] = w + n * K;
    srow[r] = scale_inv + (n / block_rows) * scale_cols;
  }

  constexpr int kU = Tile::kU;
  uint4 wq[kR][kU];
  auto load_weights = [&](int tile) {
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int c = (tile * kU + u) * kTpr + t;
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        if (c < chunks) wq[r][u] = load_stream_16(wrow[r] + static_cast<int64_t>(c) * kFp8Codes);
      }
    }
  };

  float acc[kR][kM];
#pragma unroll
  for (int r = 0; r < kR; ++r)
#pragma unroll
    for (int m = 0; m < kM; ++m) acc[r][m] = 0.f;

  float4 staged[Tile::kQuadsPerThread];
  load_weights(0);
  gemv_load_x_tile<kM, kTpr, kFp8Codes>(x, K, 0, staged);
  gemv_store_x_tile<kM, kTpr, kFp8Codes>(xs, staged);
  __syncthreads();

  for (int tile = 0; tile < tiles; ++tile) {
    uint4 cur[kR][kU];
#pragma unroll
    for (int r = 0; r < kR; ++r)
#pragma unroll
      for (int u = 0; u < kU; ++u) cur[r][u] = wq[r][u];
    const bool more = tile + 1 < tiles;
    if (more) {
      load_weights(tile + 1);
      gemv_load_x_tile<kM, kTpr, kFp8Codes>(x, K, (tile + 1) * Tile::kTileCodes, staged);
    }
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int c = (tile * kU + u) * kTpr + t;
      if (c >= chunks) break;
      const int scale_col = (c * kFp8Codes) / block_cols;
      float part[kR][kM];
#pragma unroll
      for (int r = 0; r < kR; ++r)
#pragma unroll
        for (int m = 0; m < kM; ++m) part[r][m] = 0.f;
      const float* xchunk = xs + (u * kTpr + t) * Tile::kChunkStride;
#pragma unroll
      for (int j = 0; j < 4; ++j) {  // 4 codes per word
        float v[kR][4];
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          const uint32_t word = reinterpret_cast<const uint32_t*>(&cur[r][u])[j];
          const float2 lo = decode_e4m3x2(static_cast<uint16_t>(word & 0xFFFFu));
          const float2 hi = decode_e4m3x2(static_cast<uint16_t>(word >> 16));
          v[r][0] = lo.x;
          v[r][1] = lo.y;
          v[r][2] = hi.x;
          v[r][3] = hi.y;
        }
#pragma unroll
        for (int m = 0; m < kM; ++m) {
          const float4 xv4 = *reinterpret_cast<const float4*>(xchunk + m * Tile::kRowStride + 4 * j);
          const float xv[4] = {xv4.x, xv4.y, xv4.z, xv4.w};
#pragma unroll
          for (int r = 0; r < kR; ++r)
#pragma unroll
            for (int i = 0; i < 4; ++i) part[r][m] = fmaf(xv[i], v[r][i], part[r][m]);
        }
      }
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        const float multiplier = srow[r][scale_col];
#pragma unroll
        for (int m = 0; m < kM; ++m) acc[r][m] = fmaf(part[r][m], multiplier, acc[r][m]);
      }
    }
    if (more) {
      __syncthreads();
      gemv_store_x_tile<kM, kTpr, kFp8Codes>(xs, staged);
      __syncthreads();
    }
  }
  gemv_reduce_store<kM, kTpr>(acc, red, block_row0, N, 1.0f, y);
}

template <int kM, int kTpr, typename XT>
cudaError_t launch_tpr(const uint8_t* w, const float* scale_inv, int block_rows, int block_cols, const void* x, int N,
                       int K, float* y, cudaStream_t stream) {
  using Tile = GemvTile<kM, kTpr, kFp8Codes>;
  const int blocks = (N + Tile::kRowsPerBlock - 1) / Tile::kRowsPerBlock;
  fp8_gemv_kernel<kM, kTpr, XT><<<blocks, kGemvThreads, 0, stream>>>(w, scale_inv, block_rows, block_cols,
                                                                      static_cast<const XT*>(x), y, N, K);
  return cudaGetLastError();
}

template <int kM, typename XT>
cudaError_t launch_m(const uint8_t* w, const float* scale_inv, int block_rows, int block_cols, const void* x, int N,
                     int K, float* y, int sm_count, cudaStream_t stream) {
  constexpr int kMaxTpr = gemv_max_tpr(kM, kFp8Codes);
  const int tpr = gemv_pick_tpr(N, K / kFp8Codes, gemv_chunks_per_thread(kM), sm_count, kMaxTpr);
  switch (tpr) {
    case 32: return launch_tpr<kM, 32, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, stream);
    case 64:
      if constexpr (kMaxTpr >= 64) return launch_tpr<kM, 64, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, stream);
      break;
    case 128:
      if constexpr (kMaxTpr >= 128) return launch_tpr<kM, 128, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, stream);
      break;
    default:
      if constexpr (kMaxTpr >= 256) return launch_tpr<kM, 256, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, stream);
      break;
  }
  return cudaErrorInvalidConfiguration;
}

template <typename XT>
cudaError_t launch_xt(const uint8_t* w, const float* scale_inv, int block_rows, int block_cols, const void* x, int M,
                      int N, int K, float* y, int sm_count, cudaStream_t stream) {
  switch (M) {
    case 1: return launch_m<1, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    case 2: return launch_m<2, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    case 3: return launch_m<3, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    case 4: return launch_m<4, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    case 5: return launch_m<5, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    case 6: return launch_m<6, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    case 7: return launch_m<7, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    case 8: return launch_m<8, XT>(w, scale_inv, block_rows, block_cols, x, N, K, y, sm_count, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t launch_fp8_gemv(const uint8_t* w, const float* scale_inv, int block_rows, int block_cols, const void* x,
                            bool x_is_bf16, int M, int N, int K, float* y, int sm_count, cudaStream_t stream) {
  return x_is_bf16 ? launch_xt<__nv_bfloat16>(w, scale_inv, block_rows, block_cols, x, M, N, K, y, sm_count, stream)
                   : launch_xt<float>(w, scale_inv, block_rows, block_cols, x, M, N, K, y, sm_count, stream);
}

}  // namespace fp4::cuda::detail
