// Causal scaled-dot-product attention for one sequence, f32, with grouped-query heads and K/V read either
// from contiguous rows or through a block table (the paged KV cache). One entry point covers:
//   - GQA (Llama/Qwen): qk_dim = v_dim = head_dim, num_q_heads a multiple of num_kv_heads; query head h
//     reads kv head h / (num_q_heads / num_kv_heads), as HF's repeat_kv does.
//   - expanded MLA (DeepSeek prefill): qk_dim 192 (nope 128 + rope 64), v_dim 128, num_kv_heads = num_q_heads.
//   - absorbed MLA (DeepSeek decode): one shared kv head, qk_dim 576 = 512 latent + 64 rope, v_dim 512; V is
//     the first 512 values of the same cached row as K (set v = k, v_token_stride = k_token_stride).
//
// Math per query token t (absolute position q_pos0 + t) and query head h:
//   s_u = (q_t,h · k_u,g) · softmax_scale for u ≤ q_pos0 + t (causal), p = softmax(s), out = Σ_u p_u · v_u,g.
// HF multiplies the dot product by the scale after the matmul; so do we. The softmax is an online
// (streaming) one: running max and sum, rescaled when the max grows, so no [T, n_kv] score matrix exists.
// Sliding windows and non-causal masks are not needed by the supported models and are not offered.
#pragma once

#include <cstdint>

#include "fp4/base/thread_pool.h"

namespace fp4::cpu {

// Where K and V rows live. For token u and kv head g:
//   contiguous (block_table == nullptr): k + u·k_token_stride + g·k_head_stride
//   paged: block b = block_table[u / block_size], slot = u % block_size,
//          k + b·k_block_stride + slot·k_token_stride + g·k_head_stride   (same for v)
struct KvView {
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t k_token_stride = 0;
  int64_t v_token_stride = 0;
  int64_t k_head_stride = 0;
  int64_t v_head_stride = 0;
  const int32_t* block_table = nullptr;  // [ceil(num_kv / block_size)] block ids; nullptr = contiguous
  int64_t block_size = 0;                // tokens per block (paged only)
  int64_t k_block_stride = 0;            // floats between consecutive blocks (paged only)
  int64_t v_block_stride = 0;

  // K row of token u, kv head g: [qk_dim] floats.
  const float* k_row(int64_t u, int64_t g) const {
    return k + token_offset(u, k_token_stride, k_block_stride) + g * k_head_stride;
  }
  // V row of token u, kv head g: [v_dim] floats.
  const float* v_row(int64_t u, int64_t g) const {
    return v + token_offset(u, v_token_stride, v_block_stride) + g * v_head_stride;
  }

 private:
  int64_t token_offset(int64_t u, int64_t token_stride, int64_t block_stride) const {
    if (block_table == nullptr) return u * token_stride;
    return static_cast<int64_t>(block_table[u / block_size]) * block_stride + (u % block_size) * token_stride;
  }
};

struct AttentionParams {
  int64_t num_queries = 0;   // T: query tokens in this call
  int64_t num_kv = 0;        // kv tokens readable through KvView (past + T for a prefill chunk)
  int64_t q_pos0 = 0;        // absolute position of query 0; query t sees kv tokens 0 .. q_pos0 + t
  int64_t num_q_heads = 0;   // H
  int64_t num_kv_heads = 0;  // G, H % G == 0
  int64_t qk_dim = 0;        // Dk
  int64_t v_dim = 0;         // Dv
  float softmax_scale = 0;   // e.g. Dk^-0.5, or deepseek_softmax_scale()
  // q: [T, H, Dk] at q + t·q_token_stride + h·q_head_stride
  int64_t q_token_stride = 0;
  int64_t q_head_stride = 0;
  // out: [T, H, Dv] at out + t·out_token_stride + h·out_head_stride
  int64_t out_token_stride = 0;
  int64_t out_head_stride = 0;
};

// The params of one sequence's chunk of T queries at positions pos0 .. pos0 + T - 1 over its cache (num_kv =
// pos0 + T), with densely packed heads: q [T, num_q_heads, qk_dim] and out [T, num_q_heads, v_dim].
// GQA: (H, G, D, D); expanded MLA: (H, H, P + R, V); absorbed MLA: (H, 1, L + R, L).
AttentionParams causal_chunk_params(int64_t T, int64_t pos0, int64_t num_q_heads, int64_t num_kv_heads, int64_t qk_dim,
                                    int64_t v_dim, float softmax_scale);

// Throws fp4::Error naming the field when the shapes are inconsistent (q_pos0 + T > num_kv, H % G != 0,
// a non-positive dim, a paged view without block_size, a null pointer, a non-finite scale). Every backend
// calls this first. Block ids themselves are not checked here: the KV block manager owns them.
void validate_attention(const AttentionParams& params, const float* q, const KvView& kv, const float* out);

// Computes every [t, h] output row; validates first. Work is split over (token, kv head, chunk of that
// kv head's query heads) tasks on the pool, chunks as large as the pool allows (each task streams its kv
// head's rows once); each output row is written by exactly one task. out must not overlap q or K/V.
void attention(ThreadPool& pool, const AttentionParams& params, const float* q, const KvView& kv, float* out);

// Same, on the calling thread only.
void attention(const AttentionParams& params, const float* q, const KvView& kv, float* out);

namespace reference {
// Scalar reference: all scores of a row in double, exact two-pass softmax, weighted sum in double.
void attention(const AttentionParams& params, const float* q, const KvView& kv, float* out);
}  // namespace reference

}  // namespace fp4::cpu
