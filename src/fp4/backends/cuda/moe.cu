// Mixture-of-experts kernels: routing, grouping of (token, slot) pairs by expert, the grouped NVFP4 GEMV
// over the selected experts only, and the weighted combine. All four read their sizes from device memory
// where they depend on the routing (how many distinct experts were chosen), so a decode step that uses
// them needs no host round trip and can be captured in a CUDA graph.
#include <atomic>
#include <cmath>
#include <cstdint>

#include "device_utils.cuh"
#include "gemv_common.cuh"
#include "moe_kernels.h"

namespace fp4::cuda::detail {
namespace {

// ---- Routing ---------------------------------------------------------------------------------------------

// cpu::topk's order (ops/topk.h): larger value first, NaN above every number, equal values (−0 == +0, NaN
// vs NaN) by lower index. A strict total order on (value, index) pairs with distinct indices.
__device__ __forceinline__ bool ranks_before(float va, int ia, float vb, int ib) {
  const bool na = isnan(va);
  const bool nb = isnan(vb);
  if (na || nb) {
    if (na != nb) return na;
    return ia < ib;
  }
  if (va != vb) return va > vb;
  return ia < ib;
}

// σ(z) in the CPU backend's overflow-free form (backends/cpu/activation.cc): e = exp(−|z|),
// σ = 1/(1+e) for z ≥ 0 and e/(1+e) below. expf here is CUDA's full-precision one (≤ 2 ulp); the CPU's
// exp differs by an ulp or two, so scores agree to a few ulp, not bit for bit (docs/cuda.md).
__device__ __forceinline__ float sigmoid_cpu_form(float z) {
  const float e = expf(-fabsf(z));
  const float inv = __fdiv_rn(1.0f, __fadd_rn(1.0f, e));
  return z < 0.0f ? __fmul_rn(e, inv) : inv;
}

// Reduction over the CTA's kRouteThreads threads; every thread gets the result. scratch: [warps].
template <bool kMax>
__device__ __forceinline__ float route_block_reduce(float v, float* scratch) {
#pragma unroll
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const float o = __shfl_xor_sync(0xFFFFFFFFu, v, offset);
    v = kMax ? fmaxf(v, o) : v + o;
  }
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  if (threadIdx.x % kWarpSize == 0) scratch[warp] = v;
  __syncthreads();
  float r = scratch[0];
  for (int w = 1; w < kRouteThreads / kWarpSize; ++w) r = kMax ? fmaxf(r, scratch[w]) : r + scratch[w];
  __syncthreads();  // scratch may be reused
  return r;
}

// One CTA per token, one thread per expert. Steps as model/moe.cc route_from_logits: scores; selection
// values (+ bias); group scores and the kept groups; top-k by rank; ascending ids; weights in one thread
// with the CPU's f32 operations in the CPU's order (so equal scores give bit-equal weights).
__global__ void __launch_bounds__(kRouteThreads) route_kernel(RouteArgs a) {
  __shared__ float score[kRouteMaxExperts];   // unbiased scores
  __shared__ float choice[kRouteMaxExperts];  // selection values (biased, −inf outside the kept groups)
  __shared__ float group_score[kRouteMaxExperts];
  __shared__ bool group_kept[kRouteMaxExperts];
  __shared__ int selected[kRouteMaxExperts];  // chosen ids, ascending
  __shared__ int warp_count[kRouteThreads / kWarpSize];
  __shared__ float scratch[kRouteThreads / kWarpSize];

  const int t = static_cast<int>(blockIdx.x);
  const int e = static_cast<int>(threadIdx.x);
  const int E = a.num_experts;
  const bool active = e < E;
  const int64_t row = static_cast<int64_t>(t) * E;
  const float z = active ? a.logits[row + e] : 0.0f;

  float s = 0.0f;
  if (a.scoring == kScoreSigmoid) {
    s = isnan(z) ? z : sigmoid_cpu_form(z);
  } else {
    // Softmax as cpu::softmax: max, exp(z − max), scaled by 1/Σ (an all −inf row gives zeros).
    const float m = route_block_reduce<true>(active ? z : -INFINITY, scratch);
    if (m != -INFINITY) {  // uniform across the CTA
      const float ex = active ? expf(z - m) : 0.0f;
      const float sum = route_block_reduce<false>(ex, scratch);
      s = __fmul_rn(ex, __fdiv_rn(1.0f, sum));
    }
  }
  if (active) {
    score[e] = s;
    choice[e] = a.bias != nullptr ? __fadd_rn(s, a.bias[e]) : s;
    if (a.scores != nullptr) a.scores[row + e] = s;
  }
  __syncthreads();

  if (a.grouped) {
    const int per_group = E / a.n_group;
    if (e < a.n_group) {  // one thread per group, the CPU's scan (a group has at most 256 members)
      const float* b = choice + e * per_group;
      float gs;
      if (a.group_by_top2_sum) {
        // The two best members by cpu::topk's order; their sum (one member: its own value).
        int best = 0;
        int second = -1;
        for (int i = 1; i < per_group; ++i) {
          if (ranks_before(b[i], i, b[best], best)) {
            second = best;
            best = i;
          } else if (second < 0 || ranks_before(b[i], i, b[second], second)) {
            second = i;
          }
        }
        gs = second >= 0 ? __fadd_rn(b[best], b[second]) : b[best];
      } else {
        gs = b[0];  // std::max_element: the first largest by operator<
        for (int i = 1; i < per_group; ++i) {
          if (gs < b[i]) gs = b[i];
        }
      }
      group_score[e] = gs;
    }
    __syncthreads();
    if (e < a.n_group) {
      int rank = 0;
      for (int g = 0; g < a.n_group; ++g) rank += ranks_before(group_score[g], g, group_score[e], e) ? 1 : 0;
      group_kept[e] = rank < a.topk_group;
    }
    __syncthreads();
    if (active && !group_kept[e / per_group]) choice[e] = -INFINITY;
    __syncthreads();
  }

  // Top-k by rank: an expert is chosen when fewer than k others rank before it. The order is strict and
  // total, so exactly k are chosen, the set cpu::topk returns (ties toward lower ids).
  const bool any_nan = __syncthreads_or(active && isnan(choice[e])) != 0;
  int rank = 0;
  if (active) {
    const float v = choice[e];
    if (!any_nan) {
#pragma unroll 8
      for (int j = 0; j < E; ++j) {
        const float c = choice[j];
        rank += (c > v || (c == v && j < e)) ? 1 : 0;
      }
    } else {
      for (int j = 0; j < E; ++j) rank += ranks_before(choice[j], j, v, e) ? 1 : 0;
    }
  }
  const bool chosen = active && rank < a.top_k;
  const unsigned ballot = __ballot_sync(0xFFFFFFFFu, chosen);
  const int lane = e % kWarpSize;
  const int warp = e / kWarpSize;
  if (lane == 0) warp_count[warp] = __popc(ballot);
  __syncthreads();
  if (chosen) {
    int pos = __popc(ballot & ((1u << lane) - 1u));
    for (int w = 0; w < warp; ++w) pos += warp_count[w];
    selected[pos] = e;
  }
  __syncthreads();

  if (e == 0) {
    const int k = a.top_k;
    int32_t* out_e = a.experts + static_cast<int64_t>(t) * k;
    float* out_w = a.weights + static_cast<int64_t>(t) * k;
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) sum = __fadd_rn(sum, score[selected[j]]);
    const float denom = __fadd_rn(sum, 1e-20f);
    for (int j = 0; j < k; ++j) {
      float w = score[selected[j]];
      if (a.norm_topk_prob) w = __fdiv_rn(w, denom);
      out_e[j] = selected[j];
      out_w[j] = __fmul_rn(w, a.routed_scaling_factor);
    }
  }
}

// ---- Grouping ---------------------------------------------------------------------------------------------

// One CTA of kGroupThreads. Counts per expert; one inclusive scan gives both each expert's first slot in
// `order` (low 16 bits) and its group number (high 16 bits: how many chosen experts have lower ids); then
// every pair finds its place as the number of earlier pairs of the same expert (token order within an
// expert, as the CPU's counting sort). Pairs with an id outside [0, E) belong to no group.
__global__ void __launch_bounds__(kGroupThreads) group_by_expert_kernel(GroupArgs a) {
  __shared__ int32_t expert_of[kGroupMaxPairs];
  __shared__ int32_t counts[kGroupMaxExperts];
  __shared__ int32_t scan[kGroupThreads];
  const int tid = static_cast<int>(threadIdx.x);
  const int E = a.num_experts;
  for (int i = tid; i < E; i += kGroupThreads) counts[i] = 0;
  for (int p = tid; p < a.pairs; p += kGroupThreads) expert_of[p] = a.experts[p];
  __syncthreads();
  for (int p = tid; p < a.pairs; p += kGroupThreads) {
    const int ex = expert_of[p];
    if (ex >= 0 && ex < E) atomicAdd(&counts[ex], 1);
  }
  __syncthreads();
  const int c = tid < E ? counts[tid] : 0;
  const int packed = c | ((c > 0 ? 1 : 0) << 16);  // both fields stay below 2^16 (pairs ≤ 4096, E ≤ 1024)
  scan[tid] = packed;
  __syncthreads();
  for (int offset = 1; offset < kGroupThreads; offset *= 2) {
    const int add = tid >= offset ? scan[tid - offset] : 0;
    __syncthreads();
    scan[tid] += add;
    __syncthreads();
  }
  const int before = scan[tid] - packed;  // exclusive
  if (tid < E) counts[tid] = before & 0xFFFF;  // now: the expert's first slot
  if (c > 0) {
    const int group = before >> 16;
    a.group_expert[group] = tid;
    a.group_start[group] = before & 0xFFFF;
  }
  if (tid == kGroupThreads - 1) {
    const int groups = scan[tid] >> 16;
    a.count[0] = groups;
    a.group_start[groups] = scan[tid] & 0xFFFF;
  }
  __syncthreads();
  for (int p = tid; p < a.pairs; p += kGroupThreads) {
    const int ex = expert_of[p];
    if (ex < 0 || ex >= E) continue;
    int earlier = 0;
    for (int q = 0; q < p; ++q) earlier += expert_of[q] == ex ? 1 : 0;
    a.order[counts[ex] + earlier] = p;
  }
}

// ---- Grouped NVFP4 GEMV -------------------------------------------------------------------------------------

// The NVFP4 GEMV of nvfp4_gemv.cu (16-byte chunks, 32 threads per row, two rows per thread group) over
// work items (group, table, block of rows): the CTA reads the item's rows of the group's expert once and
// multiplies them with up to kM of the group's activation rows at a time (more rows: further passes over
// the same weight rows, from L2). Work items are strided over a grid sized to fill the GPU, so groups
// that the routing left empty cost nothing. Per output the arithmetic is nvfp4_gemv.cu's, so its error
// bound holds unchanged.
constexpr int kGroupedTpr = 32;

template <int kM>
__global__ void __launch_bounds__(kGemvThreads, kGemvMinBlocksPerSm) grouped_nvfp4_gemv_kernel(GroupedGemvArgs a) {
  constexpr int kTpr = kGroupedTpr;
  constexpr int kCodes = 32;
  constexpr int kR = kGemvRowsPerThread;
  using Tile = GemvTile<kM, kTpr, kCodes>;
  constexpr int kU = Tile::kU;

  __shared__ __align__(16) float xs[kM * Tile::kRowStride];
  __shared__ const float* xrow[kM];
  __shared__ int pair_of[kM];

  const int tid = static_cast<int>(threadIdx.x);
  const int t = tid % kTpr;
  const int thread_group = tid / kTpr;
  const int N = a.N;
  const int K = a.K;
  const int chunks = K / kCodes;
  const int tiles = (chunks + Tile::kTileChunks - 1) / Tile::kTileChunks;
  const int row_blocks = (N + Tile::kRowsPerBlock - 1) / Tile::kRowsPerBlock;
  const int items_per_group = row_blocks * a.num_tables;
  const int items = a.count[0] * items_per_group;

  for (int item = static_cast<int>(blockIdx.x); item < items; item += static_cast<int>(gridDim.x)) {
    const int g = item / items_per_group;
    const int table = (item % items_per_group) / row_blocks;
    const int block_row0 = (item % row_blocks) * Tile::kRowsPerBlock;
    const int row0 = block_row0 + thread_group * kR;
    const ExpertWeightDesc wd = (table == 0 ? a.tables[0] : a.tables[1])[a.group_expert[g]];
    const float out_scale = wd.global_scale * 16384.0f;  // undo the 2^-14 of the decoded codes (exact)
    const int begin = a.group_start[g];
    const int end = a.group_start[g + 1];

    // Rows past N load row N-1 (valid memory) and are never stored.
    const uint8_t* wrow[kR];
    const uint8_t* srow[kR];
#pragma unroll
    for (int r = 0; r < kR; ++r) {
      const int64_t n = min(row0 + r, N - 1);
      wrow[r] = wd.data + n * (K / 2);
      srow[r] = wd.scales + n * (K / 16);
    }
    uint4 wq[kR][kU];
    uint32_t sq[kR][kU];
    auto load_weights = [&](int tile) {
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        const int c = (tile * kU + u) * kTpr + t;
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          if (c < chunks) {
            wq[r][u] = load_stream_16(wrow[r] + static_cast<int64_t>(c) * 16);
            sq[r][u] = *reinterpret_cast<const uint16_t*>(srow[r] + 2 * c);
          }
        }
      }
    };

    for (int m0 = begin; m0 < end; m0 += kM) {
      const int mc = min(kM, end - m0);  // activation rows this pass (uniform across the CTA)
      __syncthreads();                   // the previous pass is done with xs, xrow, pair_of
      if (tid < kM) {
        const int p = tid < mc ? a.order[m0 + tid] : -1;
        pair_of[tid] = p;
        xrow[tid] = p >= 0 ? a.x + static_cast<int64_t>(p / a.x_row_divisor) * a.x_stride : nullptr;
      }
      __syncthreads();

      float4 staged[Tile::kQuadsPerThread];
      auto load_x = [&](int k0) {
#pragma unroll
        for (int i = 0; i < Tile::kQuadsPerThread; ++i) {
          const int quad = tid + i * kGemvThreads;
          staged[i] = make_float4(0.f, 0.f, 0.f, 0.f);
          if (quad < Tile::kQuads) {
            const int m = quad / (Tile::kTileCodes / 4);
            const int k = k0 + (quad % (Tile::kTileCodes / 4)) * 4;
            if (m < mc && k < K) staged[i] = load_x4(xrow[m] + k);
          }
        }
      };

      float acc[kR][kM];
#pragma unroll
      for (int r = 0; r < kR; ++r)
#pragma unroll
        for (int m = 0; m < kM; ++m) acc[r][m] = 0.f;

      load_weights(0);
      load_x(0);
      gemv_store_x_tile<kM, kTpr, kCodes>(xs, staged);
      __syncthreads();

      for (int tile = 0; tile < tiles; ++tile) {
        uint4 cur[kR][kU];
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
          load_x((tile + 1) * Tile::kTileCodes);
        }
#pragma unroll
        for (int u = 0; u < kU; ++u) {
          if ((tile * kU + u) * kTpr + t >= chunks) break;
          float block_scale[kR][2];
#pragma unroll
          for (int r = 0; r < kR; ++r) {
            const float2 sc = decode_e4m3x2(static_cast<uint16_t>(cur_scale[r][u]));
            block_scale[r][0] = sc.x;
            block_scale[r][1] = sc.y;
          }
          const float* xchunk = xs + (u * kTpr + t) * Tile::kChunkStride;
#pragma unroll
          for (int b = 0; b < 2; ++b) {
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
              for (int r = 0; r < kR; ++r) decode_e2m1x8_scaled(reinterpret_cast<const uint32_t*>(&cur[r][u])[j], v[r]);
#pragma unroll
              for (int m = 0; m < kM; ++m) {
                if (m < mc) {  // skip the arithmetic of absent rows (uniform branch)
                  const float4 lo = *reinterpret_cast<const float4*>(xchunk + m * Tile::kRowStride + 8 * j);
                  const float4 hi = *reinterpret_cast<const float4*>(xchunk + m * Tile::kRowStride + 8 * j + 4);
                  const float xv[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
#pragma unroll
                  for (int r = 0; r < kR; ++r)
#pragma unroll
                    for (int i = 0; i < 8; ++i) part[r][m] = fmaf(xv[i], v[r][i], part[r][m]);
                }
              }
            }
#pragma unroll
            for (int r = 0; r < kR; ++r)
#pragma unroll
              for (int m = 0; m < kM; ++m) acc[r][m] = fmaf(part[r][m], block_scale[r][b], acc[r][m]);
          }
        }
        if (more) {
          __syncthreads();  // everyone is done reading this tile
          gemv_store_x_tile<kM, kTpr, kCodes>(xs, staged);
          __syncthreads();
        }
      }

      // Sum each row's partials over its 32 threads (one warp: kTpr == kWarpSize) and store per pair.
      static_assert(kTpr == kWarpSize, "one warp per thread group: the reduction is a warp shuffle");
      const int lane = tid % kWarpSize;
#pragma unroll
      for (int r = 0; r < kR; ++r) {
#pragma unroll
        for (int m = 0; m < kM; ++m) {
          float v = acc[r][m];
#pragma unroll
          for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
          const int n = row0 + r;
          if (lane == 0 && m < mc && n < N) {
            a.y[static_cast<int64_t>(pair_of[m]) * a.y_stride + static_cast<int64_t>(table) * N + n] = v * out_scale;
          }
        }
      }
    }
  }
}

template <int kM>
cudaError_t launch_grouped_m(const GroupedGemvArgs& a, int sm_count, cudaStream_t stream) {
  auto kernel = grouped_nvfp4_gemv_kernel<kM>;
  // Resident CTAs per SM for this instantiation (asked once per process and M; the answer is a property of
  // the compiled kernel and the device).
  static std::atomic<int> cached_per_sm{0};
  int per_sm = cached_per_sm.load(std::memory_order_relaxed);
  if (per_sm == 0) {
    const cudaError_t err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kGemvThreads, 0);
    if (err != cudaSuccess) return err;
    if (per_sm < 1) per_sm = 1;
    cached_per_sm.store(per_sm, std::memory_order_relaxed);
  }
  using Tile = GemvTile<kM, kGroupedTpr, 32>;
  const int64_t row_blocks = (a.N + Tile::kRowsPerBlock - 1) / Tile::kRowsPerBlock;
  const int64_t most_items = static_cast<int64_t>(a.max_groups) * row_blocks * a.num_tables;
  const int64_t fill = static_cast<int64_t>(sm_count) * per_sm;
  const int blocks = static_cast<int>(most_items < fill ? most_items : fill);
  if (blocks == 0) return cudaSuccess;
  kernel<<<blocks, kGemvThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

// ---- Combine ---------------------------------------------------------------------------------------------------

constexpr int kCombineThreads = 256;

// y[t, c] = ((0 + w0·s0) + w1·s1) + … in slot order, each product and sum one f32 rounding (no
// contraction): the CPU's `y += weight · expert(x)` over ascending expert ids, bit for bit.
__global__ void moe_combine_kernel(const float* __restrict__ src, int64_t src_stride, const float* __restrict__ weights,
                                   int tokens, int top_k, int n, const float* __restrict__ shared,
                                   int64_t shared_stride, float* __restrict__ y, int64_t y_stride) {
  const int c = static_cast<int>(blockIdx.x) * kCombineThreads + static_cast<int>(threadIdx.x);
  if (c >= n) return;
  for (int t = static_cast<int>(blockIdx.y); t < tokens; t += static_cast<int>(gridDim.y)) {
    float acc = 0.0f;
    for (int j = 0; j < top_k; ++j) {
      const int64_t p = static_cast<int64_t>(t) * top_k + j;
      acc = __fadd_rn(acc, __fmul_rn(src[p * src_stride + c], weights[p]));
    }
    if (shared != nullptr) acc = __fadd_rn(acc, shared[static_cast<int64_t>(t) * shared_stride + c]);
    y[static_cast<int64_t>(t) * y_stride + c] = acc;
  }
}

}  // namespace

cudaError_t launch_route(const RouteArgs& args, cudaStream_t stream) {
  route_kernel<<<args.tokens, kRouteThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

cudaError_t launch_group_by_expert(const GroupArgs& args, cudaStream_t stream) {
  group_by_expert_kernel<<<1, kGroupThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

cudaError_t launch_grouped_nvfp4_gemv(const GroupedGemvArgs& args, int sm_count, cudaStream_t stream) {
  const int m = args.max_tokens_per_expert;
  if (m <= 1) return launch_grouped_m<1>(args, sm_count, stream);
  if (m <= 2) return launch_grouped_m<2>(args, sm_count, stream);
  if (m <= 4) return launch_grouped_m<4>(args, sm_count, stream);
  return launch_grouped_m<8>(args, sm_count, stream);
}

cudaError_t launch_moe_combine(const float* src, int64_t src_stride, const float* weights, int tokens, int top_k,
                               int n, const float* shared, int64_t shared_stride, float* y, int64_t y_stride,
                               cudaStream_t stream) {
  constexpr int kMaxGridY = 65535;
  const dim3 grid(static_cast<unsigned>((n + kCombineThreads - 1) / kCombineThreads),
                  static_cast<unsigned>(tokens < kMaxGridY ? tokens : kMaxGridY));
  moe_combine_kernel<<<grid, kCombineThreads, 0, stream>>>(src, src_stride, weights, tokens, top_k, n, shared,
                                                           shared_stride, y, y_stride);
  return cudaGetLastError();
}

}  // namespace fp4::cuda::detail
