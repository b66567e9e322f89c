// Shape checks shared by every attention backend (see attention.h).
#include "fp4/ops/attention.h"

#include <cmath>

#include "fp4/base/error.h"

namespace fp4::cpu {

AttentionParams causal_chunk_params(int64_t T, int64_t pos0, int64_t num_q_heads, int64_t num_kv_heads, int64_t qk_dim,
                                    int64_t v_dim, float softmax_scale) {
  AttentionParams p;
  p.num_queries = T;
  p.num_kv = pos0 + T;
  p.q_pos0 = pos0;
  p.num_q_heads = num_q_heads;
  p.num_kv_heads = num_kv_heads;
  p.qk_dim = qk_dim;
  p.v_dim = v_dim;
  p.softmax_scale = softmax_scale;
  p.q_token_stride = num_q_heads * qk_dim;
  p.q_head_stride = qk_dim;
  p.out_token_stride = num_q_heads * v_dim;
  p.out_head_stride = v_dim;
  return p;
}

void validate_attention(const AttentionParams& p, const float* q, const KvView& kv, const float* out) {
  FP4_CHECK(p.num_queries >= 0, "attention: num_queries must be ≥ 0, got {}", p.num_queries);
  FP4_CHECK(p.num_q_heads > 0 && p.num_kv_heads > 0, "attention: head counts must be > 0, got q {} / kv {}",
            p.num_q_heads, p.num_kv_heads);
  FP4_CHECK(p.num_q_heads % p.num_kv_heads == 0,
            "attention: num_q_heads ({}) must be a multiple of num_kv_heads ({})", p.num_q_heads, p.num_kv_heads);
  FP4_CHECK(p.qk_dim > 0 && p.v_dim > 0, "attention: qk_dim and v_dim must be > 0, got {} / {}", p.qk_dim,
            p.v_dim);
  FP4_CHECK(p.q_pos0 >= 0, "attention: q_pos0 must be ≥ 0, got {}", p.q_pos0);
  FP4_CHECK(p.q_pos0 + p.num_queries <= p.num_kv,
            "attention: query positions reach {} but only {} kv tokens are readable", p.q_pos0 + p.num_queries,
            p.num_kv);
  FP4_CHECK(std::isfinite(p.softmax_scale) && p.softmax_scale > 0.0f,
            "attention: softmax_scale must be finite and > 0, got {}", p.softmax_scale);
  if (p.num_queries == 0) return;
  FP4_CHECK(q != nullptr && out != nullptr && kv.k != nullptr && kv.v != nullptr,
            "attention: q, out, kv.k and kv.v must be non-null");
  if (kv.block_table != nullptr) {
    FP4_CHECK(kv.block_size > 0, "attention: paged kv view needs block_size > 0, got {}", kv.block_size);
  }
}

}  // namespace fp4::cpu
