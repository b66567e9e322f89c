// NVFP4 decode GEMV, 1 ≤ M ≤ 8: y[M, N] = x[M, K] · Wᵀ with W in ModelOpt's stored layout
// (packed E2M1 [N, K/2], UE4M3 scales [N, K/16], f32 weight_scale_2).
//
// Memory-bound: every weight and scale byte is read once, with 16-byte streaming loads (8-byte when a
// row is not 16-byte aligned, i.e. K % 32 == 16). Per thread and row, one 16-byte chunk holds 32 codes
// = two scale blocks. Arithmetic, per row and block of 16:
//   part = Σ_{16} x_k · (e2m1_k · 2^-14)     f32 FMAs (decoded values are exact, see decode_e2m1x8_scaled)
//   acc += part · ue4m3_block                 one f32 FMA
// and at the end y = (Σ over the row's threads of acc) · (weight_scale_2 · 2^14).
// Error bound (docs/cuda.md): every term x_k·w_k passes through at most d = K/16 + 31 roundings
// (16 FMAs in a block, 1 scale FMA, ≤ K/16 − 1 block additions in a thread, 5 shuffle levels, ≤ 4 warp
// sums, 1 output scale), so |y − y_exact| ≤ γ_d · Σ_k |x_k·w_k| with γ_d = d·u/(1 − d·u), u = 2^-24.
#include <cuda_bf16.h>

#include <cstdint>
#include <type_traits>

#include "device_utils.cuh"
#include "gemv_common.cuh"
#include "kernels.h"

namespace fp4::cuda::detail {
namespace {

// kChunk: bytes of packed codes per thread per row per tile (16 or 8).
template <int kM, int kTpr, int kChunk, typename XT>
__global__ void __launch_bounds__(kGemvThreads, kGemvMinBlocksPerSm) nvfp4_gemv_kernel(const uint8_t* __restrict__ w,
                                                                   const uint8_t* __restrict__ scales,
                                                                   const XT* __restrict__ x, float* __restrict__ y,
                                                                   int N, int K, float out_scale) {
  constexpr int kCodes = 2 * kChunk;       // codes per chunk
  constexpr int kWords = kChunk / 4;       // 32-bit words per chunk
  constexpr int kBlocks = kCodes / 16;     // scale blocks per chunk
  constexpr int kR = kGemvRowsPerThread;
  using Tile = GemvTile<kM, kTpr, kCodes>;
  using Chunk = typename std::conditional<kChunk == 16, uint4, uint2>::type;

  __shared__ __align__(16) float xs[kM * Tile::kRowStride];
  __shared__ float red[(kGemvThreads / kWarpSize) * kR * kM];

  const int t = static_cast<int>(threadIdx.x) % kTpr;
  const int group = static_cast<int>(threadIdx.x) / kTpr;
  const int block_row0 = static_cast<int>(blockIdx.x) * Tile::kRowsPerBlock;
  const int row0 = block_row0 + group * kR;
  const int chunks = K / kCodes;
  const int tiles = (chunks + Tile::kTileChunks - 1) / Tile::kTileChunks;
  const int64_t row_bytes = K / 2;
  const int64_t scale_row = K / 16;

  // Rows past N load row N-1 (valid memory) and are never stored.
  const uint8_t* wrow[kR];
  const uint8_t* srow[kR];
#pragma unroll
  for (int r = 0; r < kR; ++r) {
    const int64_t n = min(row0 + r, N - 1);
    wrow[r] = w + n * row_bytes;
    srow[r] = scales + n * scale_row;
  }

  constexpr int kU = Tile::kU;
  Chunk wq[kR][kU];
  uint32_t sq[kR][kU];
  auto load_weights = [&](int tile) {
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int c = (tile * kU + u) * kTpr + t;
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        if (c < chunks) {
          if constexpr (kChunk == 16) {
            wq[r][u] = load_stream_16(wrow[r] + static_cast<int64_t>(c) * 16);
            sq[r][u] = *reinterpret_cast<const uint16_t*>(srow[r] + 2 * c);
          } else {
            wq[r][u] = load_stream_8(wrow[r] + static_cast<int64_t>(c) * 8);
            sq[r][u] = srow[r][c];
          }
        }
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
  gemv_load_x_tile<kM, kTpr, kCodes>(x, K, 0, staged);
  gemv_store_x_tile<kM, kTpr, kCodes>(xs, staged);
  __syncthreads();

  for (int tile = 0; tile < tiles; ++tile) {
    Chunk cur[kR][kU];
    uint32_t cur_scale[kR][kU];
#pragma unroll
    for (int r = 0; r < kR; ++r)
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        cur[r][u] = wq[r][u];
        cur_scale[r][u] = sq[r][u];
      }
    const bool more = tile + 1 < tiles;
    if (more) {  // next tile's loads go out before this tile's arithmetic
      load_weights(tile + 1);
      gemv_load_x_tile<kM, kTpr, kCodes>(x, K, (tile + 1) * Tile::kTileCodes, staged);
    }
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      if ((tile * kU + u) * kTpr + t >= chunks) break;
      float block_scale[kR][kBlocks];
#pragma unroll
      for (int r = 0; r < kR; ++r) {
        if constexpr (kBlocks == 2) {
          const float2 s = decode_e4m3x2(static_cast<uint16_t>(cur_scale[r][u]));
          block_scale[r][0] = s.x;
          block_scale[r][1] = s.y;
        } else {
          block_scale[r][0] = decode_e4m3(static_cast<uint8_t>(cur_scale[r][u]));
        }
      }
      const float* xchunk = xs + (u * kTpr + t) * Tile::kChunkStride;
#pragma unroll
      for (int b = 0; b < kBlocks; ++b) {
        float part[kR][kM];
#pragma unroll
        for (int r = 0; r < kR; ++r)
#pragma unroll
          for (int m = 0; m < kM; ++m) part[r][m] = 0.f;
#pragma unroll
        for (int jw = 0; jw < 2; ++jw) {
          const int j = 2 * b + jw;
          float v[kR][8];
#pragma unroll
          for (int r = 0; r < kR; ++r) {
            const uint32_t word = reinterpret_cast<const uint32_t*>(&cur[r][u])[j];
            decode_e2m1x8_scaled(word, v[r]);
          }
#pragma unroll
          for (int m = 0; m < kM; ++m) {
            const float4 lo = *reinterpret_cast<const float4*>(xchunk + m * Tile::kRowStride + 8 * j);
            const float4 hi = *reinterpret_cast<const float4*>(xchunk + m * Tile::kRowStride + 8 * j + 4);
            const float xv[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
            for (int r = 0; r < kR; ++r)
#pragma unroll
              for (int i = 0; i < 8; ++i) part[r][m] = fmaf(xv[i], v[r][i], part[r][m]);
          }
        }
#pragma unroll
        for (int r = 0; r < kR; ++r)
#pragma unroll
          for (int m = 0; m < kM; ++m) acc[r][m] = fmaf(part[r][m], block_scale[r][b], acc[r][m]);
      }
    }
    static_assert(kWords == 2 * kBlocks, "two words per scale block");
    if (more) {
      __syncthreads();  // everyone is done reading this tile
      gemv_store_x_tile<kM, kTpr, kCodes>(xs, staged);
      __syncthreads();
    }
  }
  gemv_reduce_store<kM, kTpr>(acc, red, block_row0, N, out_scale, y);
}

// The activation-resident variant for M ≤ 2 (decode): the whole x [M, K] is staged in shared memory once
// (36 floats per 32-code chunk), so the K loop has no barriers and no staging registers, and one row per
// thread group keeps registers low enough for four blocks per SM. Every thread has its next two 16-byte
// chunks in flight while it computes the current two. Same arithmetic and bound as the tiled kernel.
constexpr int kResidentMaxM = 2;
constexpr int kResidentMinBlocksPerSm = 4;
constexpr int kResidentSmemLimit = 100 * 1024;
constexpr int kResidentChunkStride = 36;

template <int kM, int kTpr, typename XT>
__global__ void __launch_bounds__(kGemvThreads, kResidentMinBlocksPerSm)
    nvfp4_gemv_resident_kernel(const uint8_t* __restrict__ w, const uint8_t* __restrict__ scales,
                               const XT* __restrict__ x, float* __restrict__ y, int N, int K, float out_scale) {
  constexpr int kU = 2;
  constexpr int kRowsPerBlock = kGemvThreads / kTpr;
  extern __shared__ __align__(16) float xs_dyn[];
  __shared__ float red[(kGemvThreads / kWarpSize) * kM];
  const int t = static_cast<int>(threadIdx.x) % kTpr;
  const int group = static_cast<int>(threadIdx.x) / kTpr;
  const int block_row0 = static_cast<int>(blockIdx.x) * kRowsPerBlock;
  const int64_t row = min(block_row0 + group, N - 1);
  const int chunks = K / 32;
  const int row_stride = chunks * kResidentChunkStride;
  const uint8_t* wrow = w + row * (K / 2);
  const uint8_t* srow = scales + row * (K / 16);

  uint4 wq[kU];
  uint32_t sq[kU];
  auto load_weights = [&](int step) {
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int c = (step * kU + u) * kTpr + t;
      if (c < chunks) {
        wq[u] = load_stream_16(wrow + static_cast<int64_t>(c) * 16);
        sq[u] = *reinterpret_cast<const uint16_t*>(srow + 2 * c);
      }
    }
  };
  load_weights(0);
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    for (int k = 4 * static_cast<int>(threadIdx.x); k < K; k += 4 * kGemvThreads) {
      *reinterpret_cast<float4*>(xs_dyn + m * row_stride + (k / 32) * kResidentChunkStride + k % 32) =
          load_x4(x + static_cast<int64_t>(m) * K + k);
    }
  }
  __syncthreads();

  float acc[1][kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) acc[0][m] = 0.f;
  const int steps = (chunks + kTpr * kU - 1) / (kTpr * kU);
  for (int step = 0; step < steps; ++step) {
    uint4 cur[kU];
    uint32_t cur_scale[kU];
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      cur[u] = wq[u];
      cur_scale[u] = sq[u];
    }
    if (step + 1 < steps) load_weights(step + 1);
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int c = (step * kU + u) * kTpr + t;
      if (c >= chunks) break;
      const float2 block_scale = decode_e4m3x2(static_cast<uint16_t>(cur_scale[u]));
      const float* xchunk = xs_dyn + c * kResidentChunkStride;
#pragma unroll
      for (int b = 0; b < 2; ++b) {
        float part[kM];
#pragma unroll
        for (int m = 0; m < kM; ++m) part[m] = 0.f;
#pragma unroll
        for (int jw = 0; jw < 2; ++jw) {
          const int j = 2 * b + jw;
          float v[8];
          decode_e2m1x8_scaled(reinterpret_cast<const uint32_t*>(&cur[u])[j], v);
#pragma unroll
          for (int m = 0; m < kM; ++m) {
            const float4 lo = *reinterpret_cast<const float4*>(xchunk + m * row_stride + 8 * j);
            const float4 hi = *reinterpret_cast<const float4*>(xchunk + m * row_stride + 8 * j + 4);
            const float xv[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
            for (int i = 0; i < 8; ++i) part[m] = fmaf(xv[i], v[i], part[m]);
          }
        }
        const float sc = b == 0 ? block_scale.x : block_scale.y;
#pragma unroll
        for (int m = 0; m < kM; ++m) acc[0][m] = fmaf(part[m], sc, acc[0][m]);
      }
    }
  }
  gemv_reduce_store<kM, kTpr, 1>(acc, red, block_row0, N, out_scale, y);
}

template <int kM, int kTpr, typename XT>
cudaError_t launch_resident_tpr(const uint8_t* w, const uint8_t* scales, const void* x, int N, int K,
                                float out_scale, float* y, size_t smem, cudaStream_t stream) {
  auto kernel = nvfp4_gemv_resident_kernel<kM, kTpr, XT>;
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(smem));
  if (err != cudaSuccess) return err;
  const int rows_per_block = kGemvThreads / kTpr;
  const int blocks = (N + rows_per_block - 1) / rows_per_block;
  kernel<<<blocks, kGemvThreads, smem, stream>>>(w, scales, static_cast<const XT*>(x), y, N, K, out_scale);
  return cudaGetLastError();
}

template <int kM, typename XT>
cudaError_t launch_resident(const uint8_t* w, const uint8_t* scales, const void* x, int N, int K, float out_scale,
                            float* y, int sm_count, int tpr_request, cudaStream_t stream) {
  const size_t smem = static_cast<size_t>(kM) * (K / 32) * kResidentChunkStride * sizeof(float);
  // Threads per row: 32 (a warp per row, 8 rows per block), widened only while the grid would leave SMs
  // idle. Measured on an H200 (bench/cuda), every wider choice was slower on the R1 shapes: each block
  // stages all of x, so more blocks cost more L2 traffic and staging time than they gain in parallelism.
  int tpr = 32;
  while (tpr < 256 && 2 * tpr * 2 <= K / 32 && (N + kGemvThreads / tpr - 1) / (kGemvThreads / tpr) < sm_count) {
    tpr *= 2;
  }
  if (tpr_request > 0) tpr = tpr_request;
  switch (tpr) {
    case 32: return launch_resident_tpr<kM, 32, XT>(w, scales, x, N, K, out_scale, y, smem, stream);
    case 64: return launch_resident_tpr<kM, 64, XT>(w, scales, x, N, K, out_scale, y, smem, stream);
    case 128: return launch_resident_tpr<kM, 128, XT>(w, scales, x, N, K, out_scale, y, smem, stream);
    case 256: return launch_resident_tpr<kM, 256, XT>(w, scales, x, N, K, out_scale, y, smem, stream);
    default: return cudaErrorInvalidValue;
  }
}

template <int kM, int kTpr, int kChunk, typename XT>
cudaError_t launch_tpr(const uint8_t* w, const uint8_t* scales, const void* x, int N, int K, float out_scale,
                       float* y, cudaStream_t stream) {
  using Tile = GemvTile<kM, kTpr, 2 * kChunk>;
  const int blocks = (N + Tile::kRowsPerBlock - 1) / Tile::kRowsPerBlock;
  nvfp4_gemv_kernel<kM, kTpr, kChunk, XT>
      <<<blocks, kGemvThreads, 0, stream>>>(w, scales, static_cast<const XT*>(x), y, N, K, out_scale);
  return cudaGetLastError();
}

template <int kM, int kChunk, typename XT>
cudaError_t launch_m(const uint8_t* w, const uint8_t* scales, const void* x, int N, int K, float out_scale, float* y,
                     int sm_count, int tpr_request, cudaStream_t stream) {
  if constexpr (kChunk == 16 && kM <= kResidentMaxM) {
    if (static_cast<size_t>(kM) * (K / 32) * kResidentChunkStride * sizeof(float) <= kResidentSmemLimit) {
      return launch_resident<kM, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    }
  }
  constexpr int kMaxTpr = gemv_max_tpr(kM, 2 * kChunk);
  int tpr = gemv_pick_tpr(N, K / (2 * kChunk), gemv_chunks_per_thread(kM), sm_count, kMaxTpr);
  if (tpr_request > 0) {
    if (tpr_request > kMaxTpr) return cudaErrorInvalidValue;
    tpr = tpr_request;
  }
  switch (tpr) {
    case 32: return launch_tpr<kM, 32, kChunk, XT>(w, scales, x, N, K, out_scale, y, stream);
    case 64:
      if constexpr (kMaxTpr >= 64) return launch_tpr<kM, 64, kChunk, XT>(w, scales, x, N, K, out_scale, y, stream);
      break;
    case 128:
      if constexpr (kMaxTpr >= 128) return launch_tpr<kM, 128, kChunk, XT>(w, scales, x, N, K, out_scale, y, stream);
      break;
    case 256:
      if constexpr (kMaxTpr >= 256) return launch_tpr<kM, 256, kChunk, XT>(w, scales, x, N, K, out_scale, y, stream);
      break;
    default:
      break;
  }
  return cudaErrorInvalidValue;
}

template <int kChunk, typename XT>
cudaError_t launch_chunk(const uint8_t* w, const uint8_t* scales, const void* x, int M, int N, int K, float out_scale,
                         float* y, int sm_count, int tpr_request, cudaStream_t stream) {
  switch (M) {
    case 1: return launch_m<1, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    case 2: return launch_m<2, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    case 3: return launch_m<3, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    case 4: return launch_m<4, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    case 5: return launch_m<5, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    case 6: return launch_m<6, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    case 7: return launch_m<7, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    case 8: return launch_m<8, kChunk, XT>(w, scales, x, N, K, out_scale, y, sm_count, tpr_request, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t launch_nvfp4_gemv(const uint8_t* w, const uint8_t* scales, const void* x, bool x_is_bf16, int M, int N,
                              int K, float global_scale, bool wide_chunks, float* y, int sm_count, int tpr_request,
                              cudaStream_t stream) {
  const float out_scale = global_scale * 16384.0f;  // undo the 2^-14 of the decoded codes (exact)
  if (wide_chunks) {
    return x_is_bf16 ? launch_chunk<16, __nv_bfloat16>(w, scales, x, M, N, K, out_scale, y, sm_count, tpr_request, stream)
                     : launch_chunk<16, float>(w, scales, x, M, N, K, out_scale, y, sm_count, tpr_request, stream);
  }
  return x_is_bf16 ? launch_chunk<8, __nv_bfloat16>(w, scales, x, M, N, K, out_scale, y, sm_count, tpr_request, stream)
                   : launch_chunk<8, float>(w, scales, x, M, N, K, out_scale, y, sm_count, tpr_request, stream);
}

}  // namespace fp4::cuda::detail
