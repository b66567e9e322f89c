// Causal attention (ops/attention.h semantics) for GQA, expanded MLA and absorbed MLA, f32 throughout.
//
// One CTA of 256 threads per (block of query tokens, kv head g, chunk of that group's query heads, kv
// split). Its ≤ 16 "rows" are (query token, query head) pairs that share g: a chunk of ≤ 16 heads of one
// token when a group has ≥ 16 heads (absorbed MLA), else all n_rep heads of ⌊16 / n_rep⌋ consecutive
// tokens (GQA, expanded MLA prefill), so every K/V row brought on chip serves up to 16 query rows. The CTA
// walks its kv range [begin, end) in tiles of KT keys (8/16/32), keys past a row's own position masked:
//   1. the tile's K rows (and V rows, unless V is the head of the K row as in absorbed MLA) are copied
//      from the contiguous or paged cache into shared memory;
//   2. scores s[r][j] = (q_r · k_j) · scale: each dot product is taken by a team of TS lanes (TS chosen so
//      all 256 threads work) with four independent f32 FMA chains, then a shuffle sum inside the team;
//   3. online softmax per row (one warp, lanes over the tile's keys): m' = max(m, max_j s), c = exp(m − m'),
//      l = l·c + Σ_j exp(s_j − m'); the probabilities replace the scores, stored key-major [KT][rows] so
//      that step 4 reads four rows' probabilities with one 16-byte load;
//   4. acc[r][d] = acc[r][d]·c_r + Σ_j p[r][j]·v[j][d]: every thread owns up to 4 output columns of up to
//      16 rows in registers, so a V element read from shared memory serves every row of the CTA.
// With one split the CTA writes out = acc / l. With several (long decode contexts, where the CTAs above
// would leave SMs idle) each writes (m, l, acc) and a combine kernel merges the splits: M = max m_s,
// out = Σ_s e^{m_s−M}·acc_s / Σ_s e^{m_s−M}·l_s.
#include <cstdint>

#include "model_kernels.h"

namespace fp4::cuda::detail {
namespace {

constexpr int kThreads = kAttentionThreads;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxRows = kAttentionMaxRowsPerCta;
constexpr int kMaxCols = kAttentionMaxVDim / kThreads;  // output columns per thread
constexpr int kProbPitch = kAttentionProbPitch;          // floats per key in the probability tile
constexpr int kCombineThreads = 256;
constexpr int kMaxSplits = kAttentionMaxSplits;

// Row pitch in shared memory: a multiple of 4 floats (16-byte rows for float4 access) plus 4, so rows j
// and j+1 start in different banks.
__host__ __device__ inline int row_pitch(int dim) { return (dim + 3) / 4 * 4 + 4; }

__device__ inline int64_t token_offset(const AttentionArgs& a, int64_t u, int64_t token_stride, int64_t block_stride) {
  if (a.block_table == nullptr) return u * token_stride;
  return static_cast<int64_t>(a.block_table[u / a.block_size]) * block_stride + (u % a.block_size) * token_stride;
}

// Copies rows of `dim` floats from global memory to shared memory, one warp per row.
__device__ inline void copy_row(const float* __restrict__ src, float* dst, int dim, bool vector_loads, int lane) {
  if (vector_loads) {
    const float4* s4 = reinterpret_cast<const float4*>(src);
    float4* d4 = reinterpret_cast<float4*>(dst);
    for (int i = lane; i < dim / 4; i += 32) d4[i] = __ldg(s4 + i);
  } else {
    for (int i = lane; i < dim; i += 32) dst[i] = __ldg(src + i);
  }
}

__global__ void __launch_bounds__(kThreads, 2)
    attention_kernel(const AttentionArgs a, const AttentionPlan plan, float* __restrict__ partial_acc,
                     float* __restrict__ partial_ml) {
  extern __shared__ float4 smem_vec[];
  float* smem = reinterpret_cast<float*>(smem_vec);
  const int KT = plan.keys_per_tile;
  const int qk_pitch = row_pitch(a.qk_dim);
  const int v_pitch = a.v_in_k_tile ? qk_pitch : row_pitch(a.v_dim);
  float* q_s = smem;                                  // [rows_per_cta, qk_pitch]
  float* k_s = q_s + plan.rows_per_cta * qk_pitch;    // [KT, qk_pitch]
  float* v_s = a.v_in_k_tile ? k_s : k_s + KT * qk_pitch;  // [KT, v_pitch]
  float* p_s = (a.v_in_k_tile ? k_s + KT * qk_pitch : v_s + KT * v_pitch);  // [KT, kProbPitch] key-major
  float* m_s = p_s + KT * kProbPitch;                 // [kMaxRows] running max
  float* l_s = m_s + kMaxRows;                        // running sum
  float* c_s = l_s + kMaxRows;                        // this tile's correction factor

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid / 32;
  const int lane = tid % 32;
  const int t0 = static_cast<int>(blockIdx.x) * plan.queries_per_cta;
  const int nq = min(plan.queries_per_cta, a.num_queries - t0);
  const int g = static_cast<int>(blockIdx.y) / plan.head_chunks;
  const int chunk = static_cast<int>(blockIdx.y) % plan.head_chunks;
  const int split = static_cast<int>(blockIdx.z);
  const int first_head = g * a.n_rep + chunk * plan.heads_per_cta;  // absolute query head of local head 0
  const int hc = min(plan.heads_per_cta, a.n_rep - chunk * plan.heads_per_cta);
  const int rows = nq * hc;  // row r: token t0 + r / hc, head first_head + r % hc
  const int64_t first_visible = static_cast<int64_t>(a.q_pos0) + t0 + 1;  // keys the CTA's first token sees
  const int64_t last_visible = first_visible + nq - 1;
  const int64_t begin = static_cast<int64_t>(split) * plan.keys_per_split;
  const int64_t end = plan.splits == 1 ? last_visible : min(last_visible, begin + plan.keys_per_split);

  // Query rows, the running statistics, and zero probabilities for the rows and keys no one writes.
  for (int r = warp; r < rows; r += kWarps) {
    const int64_t t = t0 + r / hc;
    const int64_t head = first_head + r % hc;
    copy_row(a.q + t * a.q_token_stride + head * a.q_head_stride, q_s + r * qk_pitch, a.qk_dim, a.vector_loads, lane);
  }
  if (tid < kMaxRows) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.f;
  }
  for (int i = tid; i < KT * kProbPitch; i += kThreads) p_s[i] = 0.f;

  // Output columns and rows of this thread: columns col_lane + c·ct, rows row_group·rpt + i (i < rpt).
  int ct = 16;
  while (ct < a.v_dim && ct < kThreads) ct *= 2;
  const int rpt = kMaxRows / (kThreads / ct);  // ≥ 1; a multiple of 4 once ct ≥ 64
  const int col_lane = tid % ct;
  const int row0 = (tid / ct) * rpt;
  float acc[kMaxCols][kMaxRows];
#pragma unroll
  for (int c = 0; c < kMaxCols; ++c) {
#pragma unroll
    for (int i = 0; i < kMaxRows; ++i) acc[c][i] = 0.f;
  }

  // Dot-product teams: TS lanes per (row, key) pair, TS a power of two ≤ 32 that keeps all threads busy.
  int ts = kThreads / (rows * KT);
  ts = ts >= 32 ? 32 : ts >= 16 ? 16 : ts >= 8 ? 8 : ts >= 4 ? 4 : ts >= 2 ? 2 : 1;
  const int teams = kThreads / ts;
  const int team = tid / ts;
  const int team_lane = tid % ts;

  for (int64_t u0 = begin; u0 < end; u0 += KT) {
    const int n_keys = static_cast<int>(min(static_cast<int64_t>(KT), end - u0));
    __syncthreads();  // the previous tile's readers are done with k_s, v_s and p_s
    for (int j = warp; j < n_keys; j += kWarps) {
      const int64_t u = u0 + j;
      copy_row(a.k + token_offset(a, u, a.k_token_stride, a.k_block_stride) + static_cast<int64_t>(g) * a.k_head_stride,
               k_s + j * qk_pitch, a.qk_dim, a.vector_loads, lane);
      if (!a.v_in_k_tile) {
        copy_row(a.v + token_offset(a, u, a.v_token_stride, a.v_block_stride) + static_cast<int64_t>(g) * a.v_head_stride,
                 v_s + j * v_pitch, a.v_dim, a.vector_loads, lane);
      }
    }
    __syncthreads();

    // 2. Scores. The loop count is the same for every thread, so the team shuffles see full warps. A key
    // past the row's own position (causal mask) gets −∞ without a dot product.
    const int dots = rows * n_keys;
    for (int base = 0; base < dots; base += teams) {
      const int dot = base + team;
      const int r = dot < dots ? dot / n_keys : 0;
      const int j = dot < dots ? dot % n_keys : 0;
      const bool valid = dot < dots && u0 + j < first_visible + r / hc;
      float sum = 0.f;
      if (valid) {
        const float* qr = q_s + r * qk_pitch;
        const float* kj = k_s + j * qk_pitch;
        if (a.vector_loads) {
          const float4* q4 = reinterpret_cast<const float4*>(qr);
          const float4* k4 = reinterpret_cast<const float4*>(kj);
          float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;  // four chains: the FMA latency is not serialised
          for (int i = team_lane; i < a.qk_dim / 4; i += ts) {
            const float4 x = q4[i];
            const float4 y = k4[i];
            s0 = fmaf(x.x, y.x, s0);
            s1 = fmaf(x.y, y.y, s1);
            s2 = fmaf(x.z, y.z, s2);
            s3 = fmaf(x.w, y.w, s3);
          }
          sum = (s0 + s1) + (s2 + s3);
        } else {
          for (int i = team_lane; i < a.qk_dim; i += ts) sum = fmaf(qr[i], kj[i], sum);
        }
      }
      for (int offset = ts / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xFFFFFFFFu, sum, offset);
      if (dot < dots && team_lane == 0) p_s[j * kProbPitch + r] = valid ? sum * a.softmax_scale : -INFINITY;
    }
    __syncthreads();

    // 3. Online softmax, one warp per row, lanes over keys (KT ≤ 32). A row that has seen no visible key
    // yet keeps m = −∞ and contributes nothing.
    for (int r = warp; r < rows; r += kWarps) {
      const float s = lane < n_keys ? p_s[lane * kProbPitch + r] : -INFINITY;
      float tile_max = s;
      for (int offset = 16; offset > 0; offset /= 2) tile_max = fmaxf(tile_max, __shfl_xor_sync(0xFFFFFFFFu, tile_max, offset));
      const float m_old = m_s[r];
      const float m_new = fmaxf(m_old, tile_max);
      const float p = s == -INFINITY ? 0.f : expf(s - m_new);
      float p_sum = p;
      for (int offset = 16; offset > 0; offset /= 2) p_sum += __shfl_xor_sync(0xFFFFFFFFu, p_sum, offset);
      if (lane < n_keys) p_s[lane * kProbPitch + r] = p;
      __syncwarp();  // every lane has read m_s[r] before lane 0 replaces it
      if (lane == 0) {
        const float correction = m_old == -INFINITY ? 0.f : expf(m_old - m_new);
        l_s[r] = fmaf(l_s[r], correction, p_sum);
        m_s[r] = m_new;
        c_s[r] = correction;
      }
    }
    __syncthreads();

    // 4. acc = acc·c + P·V for this thread's columns and rows.
#pragma unroll
    for (int i = 0; i < kMaxRows; ++i) {
      if (i < rpt && row0 + i < rows) {
        const float correction = c_s[row0 + i];
#pragma unroll
        for (int c = 0; c < kMaxCols; ++c) acc[c][i] *= correction;
      }
    }
    for (int j = 0; j < n_keys; ++j) {
      float p[kMaxRows];
      const float* pj = p_s + j * kProbPitch + row0;
      if (rpt >= 4) {
#pragma unroll
        for (int i = 0; i < kMaxRows; i += 4) {
          const float4 p4 = i < rpt ? *reinterpret_cast<const float4*>(pj + i) : make_float4(0.f, 0.f, 0.f, 0.f);
          p[i] = p4.x;
          p[i + 1] = p4.y;
          p[i + 2] = p4.z;
          p[i + 3] = p4.w;
        }
      } else {
#pragma unroll
        for (int i = 0; i < kMaxRows; ++i) p[i] = i < rpt ? pj[i] : 0.f;
      }
      const float* vj = v_s + j * v_pitch;
#pragma unroll
      for (int c = 0; c < kMaxCols; ++c) {
        const int col = col_lane + c * ct;
        if (col < a.v_dim) {
          const float v = vj[col];
#pragma unroll
          for (int i = 0; i < kMaxRows; ++i) {
            if (i < rpt) acc[c][i] = fmaf(p[i], v, acc[c][i]);
          }
        }
      }
    }
  }
  __syncthreads();  // l_s and m_s of an empty range (no tile ran) are visible to every thread

  // Epilogue: the finished output, or this split's partial state.
#pragma unroll
  for (int i = 0; i < kMaxRows; ++i) {
    const int r = row0 + i;
    if (i >= rpt || r >= rows) continue;
    const int64_t t = t0 + r / hc;
    const int64_t head = first_head + r % hc;
    if (plan.splits == 1) {
      float* out_row = a.out + t * a.out_token_stride + head * a.out_head_stride;
      const float l = l_s[r];
#pragma unroll
      for (int c = 0; c < kMaxCols; ++c) {
        const int col = col_lane + c * ct;
        if (col < a.v_dim) out_row[col] = __fdiv_rn(acc[c][i], l);
      }
    } else {
      const int64_t row = (t * a.num_q_heads + head) * plan.splits + split;
      float* dst = partial_acc + row * a.v_dim;
#pragma unroll
      for (int c = 0; c < kMaxCols; ++c) {
        const int col = col_lane + c * ct;
        if (col < a.v_dim) dst[col] = acc[c][i];
      }
      if (col_lane == 0) {
        partial_ml[row * 2] = m_s[r];
        partial_ml[row * 2 + 1] = l_s[r];
      }
    }
  }
}

// One CTA per (query token, query head): merges the splits' partial states.
__global__ void __launch_bounds__(kCombineThreads)
    attention_combine_kernel(const AttentionArgs a, int splits, const float* __restrict__ partial_acc,
                             const float* __restrict__ partial_ml) {
  __shared__ float weight_s[kMaxSplits];
  __shared__ float total_s;
  const int t = static_cast<int>(blockIdx.x);
  const int head = static_cast<int>(blockIdx.y);
  const int64_t row0 = (static_cast<int64_t>(t) * a.num_q_heads + head) * splits;
  if (threadIdx.x == 0) {
    float max_m = -INFINITY;
    for (int s = 0; s < splits; ++s) {
      if (partial_ml[(row0 + s) * 2 + 1] > 0.f) max_m = fmaxf(max_m, partial_ml[(row0 + s) * 2]);
    }
    float total = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float m = partial_ml[(row0 + s) * 2];
      const float l = partial_ml[(row0 + s) * 2 + 1];
      const float w = l > 0.f ? expf(m - max_m) : 0.f;  // a split past the query's position holds nothing
      weight_s[s] = w;
      total = fmaf(w, l, total);
    }
    total_s = total;
  }
  __syncthreads();
  const float total = total_s;
  float* oh = a.out + static_cast<int64_t>(t) * a.out_token_stride + static_cast<int64_t>(head) * a.out_head_stride;
  for (int col = static_cast<int>(threadIdx.x); col < a.v_dim; col += kCombineThreads) {
    float sum = 0.f;
    for (int s = 0; s < splits; ++s) {
      const float w = weight_s[s];
      if (w > 0.f) sum = fmaf(w, partial_acc[(row0 + s) * a.v_dim + col], sum);
    }
    oh[col] = __fdiv_rn(sum, total);
  }
}

}  // namespace

size_t attention_smem_bytes(int rows_per_cta, int keys_per_tile, int qk_dim, int v_dim, bool v_in_k_tile) {
  const size_t q = static_cast<size_t>(rows_per_cta) * row_pitch(qk_dim);
  const size_t k = static_cast<size_t>(keys_per_tile) * row_pitch(qk_dim);
  const size_t v = v_in_k_tile ? 0 : static_cast<size_t>(keys_per_tile) * row_pitch(v_dim);
  const size_t p = static_cast<size_t>(keys_per_tile) * kProbPitch;
  const size_t stats = 3 * kMaxRows;
  return (q + k + v + p + stats) * sizeof(float);
}

int attention_max_smem_bytes() {
  int device = 0;
  int bytes = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    return 48 * 1024;
  }
  return bytes;
}

cudaError_t launch_attention(const AttentionArgs& args, int num_kv_heads, const AttentionPlan& plan,
                             float* partial_acc, float* partial_ml, cudaStream_t stream) {
  if (plan.splits > kMaxSplits) return cudaErrorInvalidValue;
  cudaError_t err = cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(plan.smem_bytes));
  if (err != cudaSuccess) return err;
  const int query_blocks = (args.num_queries + plan.queries_per_cta - 1) / plan.queries_per_cta;
  const dim3 grid(static_cast<unsigned>(query_blocks), static_cast<unsigned>(num_kv_heads * plan.head_chunks),
                  static_cast<unsigned>(plan.splits));
  attention_kernel<<<grid, kThreads, plan.smem_bytes, stream>>>(args, plan, partial_acc, partial_ml);
  err = cudaGetLastError();
  if (err != cudaSuccess || plan.splits == 1) return err;
  const dim3 combine_grid(static_cast<unsigned>(args.num_queries), static_cast<unsigned>(args.num_q_heads), 1);
  attention_combine_kernel<<<combine_grid, kCombineThreads, 0, stream>>>(args, plan.splits, partial_acc, partial_ml);
  return cudaGetLastError();
}

}  // namespace fp4::cuda::detail
