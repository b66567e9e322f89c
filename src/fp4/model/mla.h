// DeepSeek multi-head latent attention (MLA), arch spec §4, in its two exact forms.
//
// Per token (H heads, P = qk_nope, R = qk_rope, V = v_head, L = kv_lora_rank):
//   q        = q_b(rmsnorm(q_a(x)))  or  q_proj(x)                  [H, P + R]
//   kv_a     = kv_a_proj_with_mqa(x)                                [L + R]
//   c_kv     = rmsnorm(kv_a[:L]),  k_pe = rope(kv_a[L:])            cached: [L + R] per token per layer
//   expanded: kv = kv_b(c_kv) [H, P + V];  K_h = [k_nope_h ; k_pe], V_h = v_h
//             o_h = softmax(scale · Q_h·K_hᵀ) · V_h
//   absorbed: q_lat_h = W_UK_hᵀ · q_nope_h [L];  score = scale · (q_lat_h·c_kv + q_pe_h·k_pe)
//             o_lat_h = Σ p · c_kv [L];  o_h = W_UV_h · o_lat_h [V]
//   out      = o_proj(concat_h o_h)
// The absorbed form is exact because k_nope_h = W_UK_h · c_kv; it reads L + R values per cached token
// instead of H·(P + R + V). W_UK_hᵀ and W_UV_h are copies of kv_b's two halves made once at load, in
// BF16 when kv_b is BF16 and in F32 otherwise, so they are exact.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/io/model_config.h"
#include "fp4/model/forward_util.h"
#include "fp4/model/model.h"
#include "fp4/model/weights.h"
#include "fp4/ops/attention.h"
#include "fp4/ops/rope.h"

namespace fp4::model {

struct MlaWeights {
  bool q_lora = false;
  Linear q_a, q_b, q_proj;          // q_a/q_b with q_lora, else q_proj
  std::vector<float> q_a_norm;      // [q_lora_rank]
  Linear kv_a;                      // [L + R, hidden]
  std::vector<float> kv_a_norm;     // [L]
  Linear kv_b;                      // [H·(P + V), L]
  Linear o_proj;                    // [hidden, H·V]
  // Absorbed-form copies of kv_b, one view per head: uk_t[h] is W_UK_hᵀ [L, P], uv[h] is W_UV_h [V, L].
  std::vector<WeightView> uk_t, uv;
  std::vector<uint16_t> absorbed_bf16;  // storage when kv_b is BF16
  std::vector<float> absorbed_f32;      // storage otherwise

  static MlaWeights bind(WeightBinder& binder, const io::ModelConfig& config, int64_t layer);
};

// Per-forward constants shared by all layers.
struct MlaContext {
  const io::ModelConfig* config = nullptr;
  const std::vector<float>* cos = nullptr;  // [N, R/2] for the positions of the batch's N rows
  const std::vector<float>* sin = nullptr;
  cpu::RopeLayout rope_layout = cpu::RopeLayout::kInterleaved;
  float softmax_scale = 0.0f;
};

// The attention call of the expanded form for one sequence, over contiguous rows: K [N, H, P + R]
// (k_nope | k_pe), V read inside kv_b's output [N, H, P + V] at column P, queries [T, H, P + R] at
// positions pos0 .. pos0 + T - 1 → out [T, H, V]. Shared by the CPU and GPU forward passes (the pointers
// are device pointers there).
struct ExpandedMlaAttention {
  cpu::AttentionParams params;
  cpu::KvView kv;
};
ExpandedMlaAttention expanded_mla_attention(const io::ModelConfig& config, int64_t T, int64_t pos0,
                                            float softmax_scale, const float* k, const float* kvb);

// x: [N, hidden] (normed), the batch's rows (see BatchRows) → out: [N, hidden]. Writes every row's
// latent to its own sequence's cache rows of `layer`, then attends per sequence over positions
// 0 .. pos0+T-1. Each sequence takes the form a single-sequence call would (kAuto: expanded for T > 1,
// absorbed for T = 1); the absorbed sequences' per-head W_UK / W_UV products run once over all of them.
void mla_forward(const Compute& cx, const MlaContext& ctx, const MlaWeights& w, const float* x,
                 std::span<const BatchSequence> batch, const BatchRows& rows, int64_t layer, MlaForm form,
                 const ForwardOptions& options, float* out);

}  // namespace fp4::model
