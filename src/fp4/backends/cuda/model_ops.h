// The CUDA ops a whole forward pass needs beyond the linears and the pointwise ops of cuda_ops.h:
// attention over the paged KV cache, residual adds, the row gathers and weighted scatter-adds of a
// mixture-of-experts layer, and writes of new K/V (or MLA latent) rows into the paged pools.
//
// Conventions are cuda_ops.h's: every pointer is a DEVICE pointer (also those inside the structs), the
// call enqueues on `stream` and returns without synchronising, argument errors throw fp4::Error before
// anything is enqueued, and a failed launch throws fp4::Error naming the kernel and the CUDA error.
// Semantics are exactly the CPU backend's, so the op test compares against the CPU references.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "fp4/ops/attention.h"

namespace fp4::cuda {

// Causal attention with cpu::attention's semantics and layouts (ops/attention.h): GQA, expanded MLA and
// absorbed MLA (v = k with v_dim ≤ qk_dim). Validates with cpu::validate_attention first (the pointer
// checks are null checks only: the values are device addresses). kv.block_table, when set, is a device
// array. f32 scores, online softmax, f32 output.
void attention(const cpu::AttentionParams& params, const float* q, const cpu::KvView& kv, float* out,
               cudaStream_t stream);

// Limits beyond validate_attention's (each a one-line fp4::Error): v_dim ≤ 1024, qk_dim as large as the
// device's per-block shared memory allows (about 2,000 floats on Hopper), num_kv within int32.
// docs/cuda.md gives the kernel's structure and its error bound against cpu::reference::attention.

// Launch choices of attention() (tests and benchmarks force them; 0 = chosen from the shape and the GPU).
struct AttentionOptions {
  // Kv ranges each query's keys are split into (1..64). Splits run as separate CTAs that write partial
  // softmax states to a stream-ordered temporary, merged by a second kernel: long decode contexts use
  // them so that T·G CTAs do not leave SMs idle.
  int kv_splits = 0;
};
void attention(const cpu::AttentionParams& params, const float* q, const cpu::KvView& kv, float* out,
               cudaStream_t stream, const AttentionOptions& options);

// y[r, i] += x[r, i] for r < rows, i < n (the residual stream). f32.
void add_rows(float* y, int64_t y_stride, const float* x, int64_t x_stride, int64_t rows, int64_t n,
              cudaStream_t stream);

// dst[i, :n] = src[index[i], :n] for i < count. index: device [count], each in [0, src_rows).
// Out-of-range indices are the caller's bug and are not checked on the device.
void gather_rows(const float* src, int64_t src_stride, const int32_t* index, int64_t count, int64_t n, float* dst,
                 int64_t dst_stride, cudaStream_t stream);

// y[index[i], :n] += weight[i] · x[i, :n] for i < count (an expert's output added into the rows that chose
// it). index entries must be distinct within one call, so no two threads write one row. weight: device
// [count]; nullptr means 1.
void scatter_add_rows(const float* x, int64_t x_stride, const int32_t* index, const float* weight, int64_t count,
                      int64_t n, float* y, int64_t y_stride, cudaStream_t stream);

// Writes new cache rows: pool[slot[r] · row_floats + col_offset + i] = src[r · src_stride + i] for r < rows,
// i < n. slot: device [rows], slot = block_id · block_size + position % block_size (model.h's
// KvSequenceView::row). col_offset + n ≤ row_floats.
void write_kv_rows(const float* src, int64_t src_stride, int64_t n, const int64_t* slot, int64_t rows, float* pool,
                   int64_t row_floats, int64_t col_offset, cudaStream_t stream);

// Copies the first `rows` token rows of block src_block into block dst_block of one layer's pool
// (forking a sequence whose last block is partly filled; runtime/kv_cache.h copy_rows).
void copy_kv_block_rows(float* pool, int64_t row_floats, int64_t block_size, int32_t src_block, int32_t dst_block,
                        int64_t rows, cudaStream_t stream);

}  // namespace fp4::cuda
