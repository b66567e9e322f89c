// FP8 block (DeepSeek 128 × 128) matmul on the BF16 tensor cores (mma_kernel.cuh): E4M3 is exact in BF16;
// each 64-wide k-tile is summed by the MMAs into its own f32 tile and multiplied by its block's f32
// multiplier before joining the accumulator (the multiplier is not exact in BF16, so it stays in f32).
// Tiles: M ≤ 16: 16 × 64 with 4 warps in N; otherwise 64 × 128 with 2 × 4 warps (the per-tile
// accumulator doubles the registers, which rules out the 128-row tile).
#include "kernels.h"
#include "mma_kernel.cuh"
#include "mma_plan.h"

namespace fp4::cuda::detail {

MmaPlan plan_fp8_mma(int M, int N, int K, int sm_count, int split_request) {
  if (M <= 16) return make_mma_plan(M, N, K, sm_count, split_request, 16, 64);
  return make_mma_plan(M, N, K, sm_count, split_request, 64, 128);
}

cudaError_t launch_fp8_mma(const MmaPlan& plan, const uint8_t* w, const float* scale_inv, int block_rows,
                           int block_cols, const void* x_bf16, int M, int N, int K, float* y, float* partial,
                           cudaStream_t stream) {
  MmaParams p;
  p.w = w;
  p.scale_inv = scale_inv;
  p.block_rows = block_rows;
  p.block_cols = block_cols;
  p.x = static_cast<const __nv_bfloat16*>(x_bf16);
  p.M = M;
  p.N = N;
  p.K = K;
  p.ktiles = (K + kMmaTileK - 1) / kMmaTileK;
  p.out_scale = 128.0f;  // the decoded weights carry 2^-7 (exact power of two)
  p.y = y;
  p.partial = partial;
  if (plan.tile_m == 16) return launch_mma_config<16, 64, 1, 4, 6, true>(p, plan.split, stream);
  return launch_mma_config<64, 128, 2, 4, 4, true>(p, plan.split, stream);
}

}  // namespace fp4::cuda::detail
