// Launchers of the CUDA kernels, called by the validated host entry points (matmul.cc, pointwise.cc).
// They take raw device pointers that the caller has already checked (shapes, alignment, null) and
// return the launch's cudaError_t; they never throw, so the .cu files need nothing from the host-side
// error machinery. Shapes use int64_t at the API and are range-checked to fit int32 before they get here.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace fp4::cuda::detail {

// ---- NVFP4 decode GEMV (nvfp4_gemv.cu), 1 ≤ M ≤ 8 -------------------------------------------------
// w: [N, K/2] packed E2M1, scales: [N, K/16] UE4M3, x: [M, K] f32 or bf16 (x_is_bf16), y: [M, N] f32.
// wide_chunks: the rows are 16-byte aligned (K % 32 == 0 and w 16-byte aligned), so each thread loads
// 16 bytes (32 codes, 2 scale blocks) at a time; otherwise 8 bytes (16 codes, 1 block).
// tpr_request: threads per weight row (32, 64, 128, 256; 0 = chosen from the shape and the GPU).
cudaError_t launch_nvfp4_gemv(const uint8_t* w, const uint8_t* scales, const void* x, bool x_is_bf16, int M, int N,
                              int K, float global_scale, bool wide_chunks, float* y, int sm_count, int tpr_request,
                              cudaStream_t stream);

// ---- FP8 block GEMV (fp8_gemv.cu), 1 ≤ M ≤ 8 ----------------------------------------------------
// w: [N, K] E4M3, scale_inv: [ceil(N/block_rows), ceil(K/block_cols)] f32 multipliers.
// Needs K % 16 == 0, block_cols % 16 == 0 and w 16-byte aligned (16 codes per load, one multiplier each).
cudaError_t launch_fp8_gemv(const uint8_t* w, const float* scale_inv, int block_rows, int block_cols,
                            const void* x, bool x_is_bf16, int M, int N, int K, float* y, int sm_count,
                            cudaStream_t stream);

// ---- Tensor-core matmuls (nvfp4_mma.cu, fp8_mma.cu) ---------------------------------------------------
// A plan fixes the block tile and the number of K slices. With split > 1 each slice writes raw f32
// partial sums to `partial` ([split, M, N]) and a reduction kernel sums them into y.
struct MmaPlan {
  int tile_m = 0;
  int tile_n = 0;
  int split = 1;
  size_t partial_bytes = 0;  // 0 when split == 1
};

// x: [M, K] bf16. K % 64 == 0, w 16-byte aligned, scales 4-byte aligned (the caller checks).
MmaPlan plan_nvfp4_mma(int M, int N, int K, int sm_count, int split_request);
cudaError_t launch_nvfp4_mma(const MmaPlan& plan, const uint8_t* w, const uint8_t* scales, const void* x_bf16, int M,
                             int N, int K, float global_scale, float* y, float* partial, cudaStream_t stream);

// x: [M, K] bf16. K % 16 == 0, w 16-byte aligned, block_rows % 128 == 0, block_cols % 64 == 0.
MmaPlan plan_fp8_mma(int M, int N, int K, int sm_count, int split_request);
cudaError_t launch_fp8_mma(const MmaPlan& plan, const uint8_t* w, const float* scale_inv, int block_rows,
                           int block_cols, const void* x_bf16, int M, int N, int K, float* y, float* partial,
                           cudaStream_t stream);

// ---- Small kernels (convert.cu, pointwise.cu) ----------------------------------------------------------
// out[i] = bf16(x[i]) with round-to-nearest-even.
cudaError_t launch_f32_to_bf16(const float* x, uint16_t* out, int64_t n, cudaStream_t stream);

cudaError_t launch_rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int rows, int dim,
                           float* out, int64_t out_stride, cudaStream_t stream);
cudaError_t launch_silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride,
                                 int rows, int n, float* out, int64_t out_stride, cudaStream_t stream);
// layout: 0 = half (rotate_half), 1 = interleaved (HF de-interleaving), 2 = interleaved pairs in place.
cudaError_t launch_rope(float* x, int tokens, int heads, int64_t token_stride, int64_t head_stride, int rot_offset,
                        int rotary_dim, const float* cos, const float* sin, int layout, cudaStream_t stream);

}  // namespace fp4::cuda::detail
