// Host entry points of model_ops.h: argument checks, the attention launch plan, temporaries, launches.
#include "fp4/backends/cuda/model_ops.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/backends/cuda/device_context.h"
#include "fp4/backends/cuda/model_kernels.h"
#include "fp4/base/error.h"

namespace fp4::cuda {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
constexpr int kMaxSplits = detail::kAttentionMaxSplits;
constexpr int64_t kMinKeysPerSplit = 128;  // below this a split's fixed cost outweighs its parallelism
// A CTA of ≤ this much shared memory leaves room for two per SM (228 KB per SM on Hopper).
constexpr size_t kTwoPerSmBytes = 110 * 1024;

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

detail::AttentionArgs attention_args(const cpu::AttentionParams& p, const float* q, const cpu::KvView& kv,
                                     float* out) {
  detail::AttentionArgs a;
  a.q = q;
  a.k = kv.k;
  a.v = kv.v;
  a.out = out;
  a.block_table = kv.block_table;
  a.block_size = kv.block_size;
  a.k_token_stride = kv.k_token_stride;
  a.v_token_stride = kv.v_token_stride;
  a.k_head_stride = kv.k_head_stride;
  a.v_head_stride = kv.v_head_stride;
  a.k_block_stride = kv.k_block_stride;
  a.v_block_stride = kv.v_block_stride;
  a.q_token_stride = p.q_token_stride;
  a.q_head_stride = p.q_head_stride;
  a.out_token_stride = p.out_token_stride;
  a.out_head_stride = p.out_head_stride;
  a.num_queries = static_cast<int>(p.num_queries);
  a.q_pos0 = static_cast<int>(p.q_pos0);
  a.num_q_heads = static_cast<int>(p.num_q_heads);
  a.n_rep = static_cast<int>(p.num_q_heads / p.num_kv_heads);
  a.qk_dim = static_cast<int>(p.qk_dim);
  a.v_dim = static_cast<int>(p.v_dim);
  a.softmax_scale = p.softmax_scale;
  const bool paged = kv.block_table != nullptr;
  // V is the head of the K row (absorbed MLA: v = k, same strides): the K tile in shared memory serves both.
  a.v_in_k_tile = kv.v == kv.k && kv.v_token_stride == kv.k_token_stride && kv.v_head_stride == kv.k_head_stride &&
                  (!paged || kv.v_block_stride == kv.k_block_stride) && p.v_dim <= p.qk_dim;
  // float4 loads need every row start 16-byte aligned: base pointers, and all strides multiples of 4 floats.
  const auto mult4 = [](int64_t v) { return v % 4 == 0; };
  a.vector_loads = aligned16(q) && aligned16(kv.k) && aligned16(kv.v) && mult4(p.qk_dim) && mult4(p.v_dim) &&
                   mult4(p.q_token_stride) && mult4(p.q_head_stride) && mult4(kv.k_token_stride) &&
                   mult4(kv.v_token_stride) && mult4(kv.k_head_stride) && mult4(kv.v_head_stride) &&
                   (!paged || (mult4(kv.k_block_stride) && mult4(kv.v_block_stride)));
  return a;
}

detail::AttentionPlan attention_plan(const cpu::AttentionParams& p, const detail::AttentionArgs& a,
                                     const AttentionOptions& options) {
  detail::AttentionPlan plan;
  constexpr int kRows = detail::kAttentionMaxRowsPerCta;
  // Rows of a CTA: a balanced chunk of a large group's heads, or whole small groups of several tokens.
  plan.head_chunks = static_cast<int>(ceil_div(a.n_rep, kRows));
  plan.heads_per_cta = static_cast<int>(ceil_div(a.n_rep, plan.head_chunks));
  plan.queries_per_cta = plan.head_chunks == 1 ? std::min(kRows / plan.heads_per_cta, a.num_queries) : 1;
  plan.rows_per_cta = plan.heads_per_cta * plan.queries_per_cta;
  const size_t max_smem = static_cast<size_t>(detail::attention_max_smem_bytes());
  plan.keys_per_tile = 0;
  for (const int kt : {32, 16, 8}) {
    const size_t bytes = detail::attention_smem_bytes(plan.rows_per_cta, kt, a.qk_dim, a.v_dim, a.v_in_k_tile);
    if (bytes <= kTwoPerSmBytes || (kt == 8 && bytes <= max_smem)) {
      plan.keys_per_tile = kt;
      plan.smem_bytes = bytes;
      break;
    }
  }
  FP4_CHECK(plan.keys_per_tile > 0,
            "cuda attention: qk_dim {} / v_dim {} with {} heads per kv group need more shared memory than the "
            "device's {} bytes per block",
            p.qk_dim, p.v_dim, a.n_rep, max_smem);

  const int64_t longest = p.q_pos0 + p.num_queries;  // keys the last query sees
  int64_t splits = options.kv_splits;
  if (splits == 0) {
    const int64_t ctas = ceil_div(p.num_queries, plan.queries_per_cta) * p.num_kv_heads * plan.head_chunks;
    const int64_t target = 2 * static_cast<int64_t>(sm_count());
    splits = ctas >= target ? 1 : std::min(ceil_div(target, ctas), ceil_div(longest, kMinKeysPerSplit));
    splits = std::clamp<int64_t>(splits, 1, kMaxSplits);
  }
  // Split lengths are whole tiles; recounting drops splits that would start past the longest query.
  plan.keys_per_split = static_cast<int>(ceil_div(ceil_div(longest, splits), plan.keys_per_tile) * plan.keys_per_tile);
  plan.splits = static_cast<int>(ceil_div(longest, plan.keys_per_split));
  return plan;
}

}  // namespace

void attention(const cpu::AttentionParams& params, const float* q, const cpu::KvView& kv, float* out,
               cudaStream_t stream) {
  attention(params, q, kv, out, stream, AttentionOptions{});
}

void attention(const cpu::AttentionParams& p, const float* q, const cpu::KvView& kv, float* out, cudaStream_t stream,
               const AttentionOptions& options) {
  cpu::validate_attention(p, q, kv, out);
  FP4_CHECK(options.kv_splits >= 0 && options.kv_splits <= kMaxSplits,
            "cuda attention: kv_splits = {} must be 0 (automatic) or 1..{}", options.kv_splits, kMaxSplits);
  if (p.num_queries == 0) return;
  FP4_CHECK(p.num_kv <= kMaxInt && p.num_q_heads <= kMaxInt && p.qk_dim <= kMaxInt,
            "cuda attention: num_kv = {}, num_q_heads = {} and qk_dim = {} must fit in int32", p.num_kv,
            p.num_q_heads, p.qk_dim);
  FP4_CHECK(p.v_dim <= detail::kAttentionMaxVDim, "cuda attention: v_dim = {} exceeds the kernel's {} columns", p.v_dim,
            detail::kAttentionMaxVDim);
  FP4_CHECK(kv.block_table == nullptr || kv.block_size <= kMaxInt,
            "cuda attention: block_size = {} must fit in int32", kv.block_size);
  const detail::AttentionArgs args = attention_args(p, q, kv, out);
  const detail::AttentionPlan plan = attention_plan(p, args, options);
  FP4_CHECK(p.num_kv_heads * plan.head_chunks <= 65535,
            "cuda attention: {} kv heads × {} head chunks exceed the grid's 65535 rows", p.num_kv_heads,
            plan.head_chunks);
  const size_t partial_rows = plan.splits > 1 ? static_cast<size_t>(p.num_queries * p.num_q_heads * plan.splits) : 0;
  StreamBuffer partial_acc(partial_rows * p.v_dim * sizeof(float), stream, "cudaMallocAsync(attention partials)");
  StreamBuffer partial_ml(partial_rows * 2 * sizeof(float), stream, "cudaMallocAsync(attention partial max/sum)");
  check_cuda(detail::launch_attention(args, static_cast<int>(p.num_kv_heads), plan, partial_acc.as<float>(),
                                      partial_ml.as<float>(), stream),
             "attention launch");
}

void add_rows(float* y, int64_t y_stride, const float* x, int64_t x_stride, int64_t rows, int64_t n,
              cudaStream_t stream) {
  FP4_CHECK(rows >= 0 && n >= 0, "cuda add_rows: rows = {} and n = {} must not be negative", rows, n);
  FP4_CHECK(y_stride >= n && x_stride >= n, "cuda add_rows: strides (y {}, x {}) must be at least n = {}", y_stride,
            x_stride, n);
  if (rows == 0 || n == 0) return;
  FP4_CHECK(y != nullptr && x != nullptr, "cuda add_rows: y or x is a null pointer");
  check_cuda(detail::launch_add_rows(y, y_stride, x, x_stride, rows, n, stream), "add_rows launch");
}

void gather_rows(const float* src, int64_t src_stride, const int32_t* index, int64_t count, int64_t n, float* dst,
                 int64_t dst_stride, cudaStream_t stream) {
  FP4_CHECK(count >= 0 && n >= 0, "cuda gather_rows: count = {} and n = {} must not be negative", count, n);
  FP4_CHECK(src_stride >= n && dst_stride >= n, "cuda gather_rows: strides (src {}, dst {}) must be at least n = {}",
            src_stride, dst_stride, n);
  if (count == 0 || n == 0) return;
  FP4_CHECK(src != nullptr && index != nullptr && dst != nullptr, "cuda gather_rows: src, index or dst is a null pointer");
  check_cuda(detail::launch_gather_rows(src, src_stride, index, count, n, dst, dst_stride, stream),
             "gather_rows launch");
}

void scatter_add_rows(const float* x, int64_t x_stride, const int32_t* index, const float* weight, int64_t count,
                      int64_t n, float* y, int64_t y_stride, cudaStream_t stream) {
  FP4_CHECK(count >= 0 && n >= 0, "cuda scatter_add_rows: count = {} and n = {} must not be negative", count, n);
  FP4_CHECK(x_stride >= n && y_stride >= n, "cuda scatter_add_rows: strides (x {}, y {}) must be at least n = {}",
            x_stride, y_stride, n);
  if (count == 0 || n == 0) return;
  FP4_CHECK(x != nullptr && index != nullptr && y != nullptr, "cuda scatter_add_rows: x, index or y is a null pointer");
  check_cuda(detail::launch_scatter_add_rows(x, x_stride, index, weight, count, n, y, y_stride, stream),
             "scatter_add_rows launch");
}

void write_kv_rows(const float* src, int64_t src_stride, int64_t n, const int64_t* slot, int64_t rows, float* pool,
                   int64_t row_floats, int64_t col_offset, cudaStream_t stream) {
  FP4_CHECK(rows >= 0 && n >= 0, "cuda write_kv_rows: rows = {} and n = {} must not be negative", rows, n);
  FP4_CHECK(col_offset >= 0 && col_offset + n <= row_floats,
            "cuda write_kv_rows: columns [{}, {}) do not fit a cache row of {} floats", col_offset, col_offset + n,
            row_floats);
  FP4_CHECK(src_stride >= n, "cuda write_kv_rows: src_stride = {} must be at least n = {}", src_stride, n);
  if (rows == 0 || n == 0) return;
  FP4_CHECK(src != nullptr && slot != nullptr && pool != nullptr, "cuda write_kv_rows: src, slot or pool is a null pointer");
  check_cuda(detail::launch_write_kv_rows(src, src_stride, n, slot, rows, pool, row_floats, col_offset, stream),
             "write_kv_rows launch");
}

void copy_kv_block_rows(float* pool, int64_t row_floats, int64_t block_size, int32_t src_block, int32_t dst_block,
                        int64_t rows, cudaStream_t stream) {
  FP4_CHECK(row_floats > 0 && block_size > 0, "cuda copy_kv_block_rows: row_floats = {} and block_size = {} must be > 0",
            row_floats, block_size);
  FP4_CHECK(rows >= 0 && rows <= block_size, "cuda copy_kv_block_rows: rows = {} must be in [0, block_size = {}]", rows,
            block_size);
  FP4_CHECK(src_block >= 0 && dst_block >= 0, "cuda copy_kv_block_rows: block ids ({}, {}) must not be negative",
            src_block, dst_block);
  FP4_CHECK(src_block != dst_block, "cuda copy_kv_block_rows: source and destination are the same block {}", src_block);
  if (rows == 0) return;
  FP4_CHECK(pool != nullptr, "cuda copy_kv_block_rows: pool is a null pointer");
  const int64_t block_floats = block_size * row_floats;
  // Blocks are disjoint ranges of one pool, so a device-to-device copy (stream-ordered, graph-capturable) is it.
  check_cuda(cudaMemcpyAsync(pool + dst_block * block_floats, pool + src_block * block_floats,
                             static_cast<size_t>(rows * row_floats) * sizeof(float), cudaMemcpyDeviceToDevice, stream),
             "copy_kv_block_rows (cudaMemcpyAsync)");
}

}  // namespace fp4::cuda
