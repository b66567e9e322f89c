// Launchers of the model-level CUDA kernels (attention.cu, rows.cu), called by the validated host entry
// points of model_ops.cc. Like kernels.h: raw device pointers the caller has checked, a cudaError_t back,
// nothing thrown, so the .cu files need none of the host-side error machinery.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace fp4::cuda::detail {

// ---- Attention (attention.cu) ---------------------------------------------------------------------------
constexpr int kAttentionThreads = 256;
constexpr int kAttentionMaxRowsPerCta = 16;  // (query token, query head) rows of one kv group per CTA
constexpr int kAttentionMaxVDim = 1024;      // 4 output columns per thread × 256 threads
constexpr int kAttentionMaxSplits = 64;      // kv ranges per query (the combine kernel's weight table)
constexpr int kAttentionProbPitch = 20;      // floats per key of the [KT, rows] probability tile: 16-byte
                                             // aligned, and 4 keys apart land in different banks

// Everything the attention kernel needs, by value. Strides in floats; int64 so large pools cannot overflow.
struct AttentionArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  const int32_t* block_table = nullptr;  // nullptr = contiguous K/V
  int64_t block_size = 0;
  int64_t k_token_stride = 0, v_token_stride = 0;
  int64_t k_head_stride = 0, v_head_stride = 0;
  int64_t k_block_stride = 0, v_block_stride = 0;
  int64_t q_token_stride = 0, q_head_stride = 0;
  int64_t out_token_stride = 0, out_head_stride = 0;
  int num_queries = 0;  // T
  int q_pos0 = 0;
  int num_q_heads = 0;  // H
  int n_rep = 0;        // H / G
  int qk_dim = 0;
  int v_dim = 0;
  float softmax_scale = 0.f;
  bool v_in_k_tile = false;  // V rows are the first v_dim values of the K rows (absorbed MLA): one tile serves both
  bool vector_loads = false; // K/V/q rows are 16-byte aligned with qk_dim, v_dim % 4 == 0: float4 loads
};

// The launch shape the host picked (attention_plan in model_ops.cc).
struct AttentionPlan {
  int heads_per_cta = 1;    // query heads of one group per CTA
  int head_chunks = 1;      // ceil(n_rep / heads_per_cta)
  int queries_per_cta = 1;  // query tokens per CTA (> 1 only when one chunk holds the whole group)
  int rows_per_cta = 1;     // heads_per_cta · queries_per_cta ≤ kAttentionMaxRowsPerCta
  int keys_per_tile = 32; // 8, 16 or 32
  int splits = 1;         // kv ranges per query; > 1 writes partials that a combine kernel merges
  int keys_per_split = 0; // multiple of keys_per_tile
  size_t smem_bytes = 0;
};

// Dynamic shared memory one CTA needs for this shape (q tile, K tile, V tile unless it lives in K, scores).
size_t attention_smem_bytes(int rows_per_cta, int keys_per_tile, int qk_dim, int v_dim, bool v_in_k_tile);
// Largest dynamic shared memory a CTA may opt into on the current device.
int attention_max_smem_bytes();

// partial_acc: [T, H, splits, v_dim], partial_ml: [T, H, splits, 2] (running max, running sum); used
// only when plan.splits > 1.
cudaError_t launch_attention(const AttentionArgs& args, int num_kv_heads, const AttentionPlan& plan,
                             float* partial_acc, float* partial_ml, cudaStream_t stream);

// ---- Row kernels (rows.cu) -------------------------------------------------------------------------------
cudaError_t launch_add_rows(float* y, int64_t y_stride, const float* x, int64_t x_stride, int64_t rows, int64_t n,
                            cudaStream_t stream);
cudaError_t launch_gather_rows(const float* src, int64_t src_stride, const int32_t* index, int64_t count, int64_t n,
                               float* dst, int64_t dst_stride, cudaStream_t stream);
cudaError_t launch_scatter_add_rows(const float* x, int64_t x_stride, const int32_t* index, const float* weight,
                                    int64_t count, int64_t n, float* y, int64_t y_stride, cudaStream_t stream);
cudaError_t launch_write_kv_rows(const float* src, int64_t src_stride, int64_t n, const int64_t* slot, int64_t rows,
                                 float* pool, int64_t row_floats, int64_t col_offset, cudaStream_t stream);

}  // namespace fp4::cuda::detail
