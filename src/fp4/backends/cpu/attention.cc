// Causal attention with an online softmax, SIMD path (Highway, runtime dispatch). Scalar reference:
// attention_reference.cc.
//
// For each query token and kv head, the query heads that share that kv head (n_rep = H / G) walk the
// visible keys in blocks of kKeyBlock: the block's K/V rows are read once from the (possibly paged)
// cache and reused by every head of the group while they are hot in cache. Per head and block:
//   s_j = (q · k_j) · scale,  m' = max(m, max_j s_j),  c = exp(m − m'),  l = l·c + Σ_j exp(s_j − m'),
//   acc = acc·c + Σ_j exp(s_j − m') · v_j;   at the end out = acc / l.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fp4/backends/cpu/attention.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/ops/attention.h"

// Shared constants: this file is compiled once per SIMD target, so guard them.
#ifndef FP4_CPU_ATTENTION_CONSTANTS
#define FP4_CPU_ATTENTION_CONSTANTS
namespace fp4::cpu {
// Keys per block: 64 rows of up to 576 floats (absorbed MLA) is 144 KiB, which stays in L2 while all
// heads of the group use it.
constexpr int64_t kKeyBlock = 64;
// At most this many query heads per task: 16 accumulators of Dv = 512 floats are 32 KiB, which with the
// 144 KiB key block stays in L2. (All 128 heads of absorbed MLA in one task measured 2× slower per FLOP.)
constexpr int64_t kMaxHeadsPerTask = 16;
}  // namespace fp4::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace fp4::cpu {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {  // internal linkage: other files define per-target helpers with the same names

float Dot(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), acc1);
  }
  for (; i + lanes <= n; i += lanes) acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// acc[i] = acc[i] · scale
void Scale(float* acc, float scale, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto s = hn::Set(d, scale);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(d, acc + i), s), d, acc + i);
  for (; i < n; ++i) acc[i] *= scale;
}

// out[j] = q · k[j] for four K rows at once: each q vector is loaded once for four keys.
void Dot4(const float* HWY_RESTRICT q, const float* const* k, int64_t n, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto qv = hn::LoadU(d, q + i);
    a0 = hn::MulAdd(qv, hn::LoadU(d, k[0] + i), a0);
    a1 = hn::MulAdd(qv, hn::LoadU(d, k[1] + i), a1);
    a2 = hn::MulAdd(qv, hn::LoadU(d, k[2] + i), a2);
    a3 = hn::MulAdd(qv, hn::LoadU(d, k[3] + i), a3);
  }
  out[0] = hn::GetLane(hn::SumOfLanes(d, a0));
  out[1] = hn::GetLane(hn::SumOfLanes(d, a1));
  out[2] = hn::GetLane(hn::SumOfLanes(d, a2));
  out[3] = hn::GetLane(hn::SumOfLanes(d, a3));
  for (; i < n; ++i) {
    for (int j = 0; j < 4; ++j) out[j] += q[i] * k[j][i];
  }
}

// acc[i] += Σ_j p[j] · v[j][i] over a block of keys, keeping each acc vector in a register for the
// whole block instead of loading and storing it once per key.
void AccumulateBlock(float* HWY_RESTRICT acc, const float* p, const float* const* v, int64_t keys, int64_t n) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto a = hn::LoadU(d, acc + i);
    for (int64_t j = 0; j < keys; ++j) a = hn::MulAdd(hn::Set(d, p[j]), hn::LoadU(d, v[j] + i), a);
    hn::StoreU(a, d, acc + i);
  }
  for (; i < n; ++i) {
    float a = acc[i];
    for (int64_t j = 0; j < keys; ++j) a += p[j] * v[j][i];
    acc[i] = a;
  }
}

// p[j] = exp(s[j] − max) for j < n, returns Σ p[j]. Arguments are ≤ 0, inside Exp's valid range.
float ExpShifted(const float* s, float max, int64_t n, float* p) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vmax = hn::Set(d, max);
  auto vsum = hn::Zero(d);
  int64_t j = 0;
  for (; j + lanes <= n; j += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, s + j), vmax));
    hn::StoreU(e, d, p + j);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, vsum));
  for (; j < n; ++j) {
    p[j] = std::exp(s[j] - max);
    sum += p[j];
  }
  return sum;
}

// One task: query token t, kv head g, query heads g·n_rep + [r_begin, r_end) of that group.
void AttentionTask(const AttentionParams& p, const float* q, const KvView& kv, float* out, int64_t t, int64_t g,
                   int64_t r_begin, int64_t r_end) {
  const int64_t n_rep = p.num_q_heads / p.num_kv_heads;
  const int64_t heads = r_end - r_begin;
  const int64_t dk = p.qk_dim;
  const int64_t dv = p.v_dim;
  std::vector<float> acc(static_cast<size_t>(heads * dv), 0.0f);  // [heads, Dv]
  std::vector<float> running_max(static_cast<size_t>(heads), -std::numeric_limits<float>::infinity());
  std::vector<float> running_sum(static_cast<size_t>(heads), 0.0f);
  const float* k_rows[kKeyBlock];
  const float* v_rows[kKeyBlock];
  float scores[kKeyBlock];
  float probs[kKeyBlock];

  const int64_t visible = p.q_pos0 + t + 1;
  for (int64_t u0 = 0; u0 < visible; u0 += kKeyBlock) {
    const int64_t bn = std::min(kKeyBlock, visible - u0);
    for (int64_t j = 0; j < bn; ++j) {
      k_rows[j] = kv.k_row(u0 + j, g);
      v_rows[j] = kv.v_row(u0 + j, g);
    }
    for (int64_t r = 0; r < heads; ++r) {
      const int64_t h = g * n_rep + r_begin + r;
      const float* qh = q + t * p.q_token_stride + h * p.q_head_stride;
      float block_max = -std::numeric_limits<float>::infinity();
      int64_t j = 0;
      for (; j + 4 <= bn; j += 4) Dot4(qh, k_rows + j, dk, scores + j);
      for (; j < bn; ++j) scores[j] = Dot(qh, k_rows[j], dk);
      for (j = 0; j < bn; ++j) {
        scores[j] *= p.softmax_scale;
        block_max = std::max(block_max, scores[j]);
      }
      float* acc_r = acc.data() + r * dv;
      float& m = running_max[static_cast<size_t>(r)];
      float& l = running_sum[static_cast<size_t>(r)];
      const float new_max = std::max(m, block_max);
      if (new_max > m && l > 0.0f) {
        const float correction = std::exp(m - new_max);
        l *= correction;
        Scale(acc_r, correction, dv);
      }
      m = new_max;
      l += ExpShifted(scores, new_max, bn, probs);
      AccumulateBlock(acc_r, probs, v_rows, bn, dv);
    }
  }

  for (int64_t r = 0; r < heads; ++r) {
    const int64_t h = g * n_rep + r_begin + r;
    float* oh = out + t * p.out_token_stride + h * p.out_head_stride;
    const float inv_sum = 1.0f / running_sum[static_cast<size_t>(r)];
    const float* acc_r = acc.data() + r * dv;
    for (int64_t i = 0; i < dv; ++i) oh[i] = acc_r[i] * inv_sum;
  }
}

}  // namespace
}  // namespace HWY_NAMESPACE
}  // namespace fp4::cpu
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fp4::cpu {

HWY_EXPORT(AttentionTask);

void attention(ThreadPool& pool, const AttentionParams& params, const float* q, const KvView& kv, float* out) {
  validate_attention(params, q, kv, out);
  if (params.num_queries == 0) return;
  // Tasks: (token, kv head, chunk of that group's query heads). Every task streams all visible K/V rows
  // of its kv head once, so chunks should be as large as possible: split a group's heads only as far as
  // needed to give every thread work (decode: 1 token; absorbed MLA: 1 kv head for 128 query heads),
  // and no larger than kMaxHeadsPerTask so the accumulators stay in cache next to the key block.
  const int64_t n_rep = params.num_q_heads / params.num_kv_heads;
  const int64_t groups = params.num_queries * params.num_kv_heads;
  const int64_t wanted_chunks = std::max<int64_t>(1, (pool.size() + groups - 1) / groups);
  const int64_t heads_per_task = std::min(
      kMaxHeadsPerTask, (n_rep + std::min(wanted_chunks, n_rep) - 1) / std::min(wanted_chunks, n_rep));
  const int64_t chunks = (n_rep + heads_per_task - 1) / heads_per_task;
  const int64_t per_token = params.num_kv_heads * chunks;
  pool.parallel_for(params.num_queries * per_token, [&](int64_t task, int) {
    const int64_t t = task / per_token;
    const int64_t g = (task % per_token) / chunks;
    const int64_t r_begin = (task % chunks) * heads_per_task;
    const int64_t r_end = std::min(n_rep, r_begin + heads_per_task);
    HWY_DYNAMIC_DISPATCH(AttentionTask)(params, q, kv, out, t, g, r_begin, r_end);
  });
}

void attention(const AttentionParams& params, const float* q, const KvView& kv, float* out) {
  ThreadPool inline_pool(1);
  attention(inline_pool, params, q, kv, out);
}

}  // namespace fp4::cpu
#endif  // HWY_ONCE
