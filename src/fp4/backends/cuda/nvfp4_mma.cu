// NVFP4 matmul on the BF16 tensor cores (mma_kernel.cuh): E2M1 · UE4M3 is exact in BF16, so the only
// roundings are the tensor cores' f32 accumulation, the split-K sum and the output scale (and, for f32
// activations, their rounding to BF16 before the call). Tiles by M:
//   M ≤ 16: 16 × 64, 4 warps side by side in N, 6 stages (memory-bound: many small blocks, about four
//           per SM, keep weight bytes in flight);
//   M ≤ 64: 64 × 128, 2 × 4 warps, 4 stages;
//   larger: 128 × 128, 2 × 4 warps (64 × 32 per warp: each decoded B fragment feeds 4 MMAs), 4 stages.
#include "kernels.h"
#include "mma_kernel.cuh"
#include "mma_plan.h"

namespace fp4::cuda::detail {

MmaPlan plan_nvfp4_mma(int M, int N, int K, int sm_count, int split_request) {
  if (M <= 16) return make_mma_plan(M, N, K, sm_count, split_request, 16, 64);
  if (M <= 64) return make_mma_plan(M, N, K, sm_count, split_request, 64, 128);
  return make_mma_plan(M, N, K, sm_count, split_request, 128, 128);
}

cudaError_t launch_nvfp4_mma(const MmaPlan& plan, const uint8_t* w, const uint8_t* scales, const void* x_bf16, int M,
                             int N, int K, float global_scale, float* y, float* partial, cudaStream_t stream) {
  MmaParams p;
  p.w = w;
  p.scales = scales;
  p.x = static_cast<const __nv_bfloat16*>(x_bf16);
  p.M = M;
  p.N = N;
  p.K = K;
  p.ktiles = (K + kMmaTileK - 1) / kMmaTileK;
  p.out_scale = global_scale * 128.0f;  // the decoded weights carry 2^-7 (exact power of two)
  p.y = y;
  p.partial = partial;
  if (plan.tile_m == 16) return launch_mma_config<16, 64, 1, 4, 6, false>(p, plan.split, stream);
  if (plan.tile_m == 64) return launch_mma_config<64, 128, 2, 4, 4, false>(p, plan.split, stream);
  return launch_mma_config<128, 128, 2, 4, 4, false>(p, plan.split, stream);
}

}  // namespace fp4::cuda::detail
