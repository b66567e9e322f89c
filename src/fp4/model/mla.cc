#include "fp4/model/mla.h"

#include <fmt/format.h>

#include <algorithm>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/model/forward_util.h"
#include "fp4/ops/attention.h"
#include "fp4/ops/matmul.h"
#include "fp4/ops/norm.h"

namespace fp4::model {
namespace {

// q_a_layernorm and kv_a_layernorm are built without an eps argument in HF's DeepseekV3Attention, so they
// use the RMSNorm class default whatever rms_norm_eps says (arch spec §3).
constexpr float kLatentNormEps = 1e-6f;

// Splits kv_b [H·(P+V), L] into per-head W_UK_hᵀ [L, P] and W_UV_h [V, L], exact copies.
void make_absorbed(MlaWeights& w, int64_t H, int64_t P, int64_t V, int64_t L) {
  const std::vector<float> kvb = decode_weight(w.kv_b.w);  // [H·(P+V), L]
  const bool bf16 = w.kv_b.w.encoding == WeightEncoding::kBF16;
  const int64_t per_head = L * P + V * L;
  std::vector<float> packed(static_cast<size_t>(H * per_head));
  for (int64_t h = 0; h < H; ++h) {
    float* uk_t = packed.data() + h * per_head;  // [L, P]
    float* uv = uk_t + L * P;                    // [V, L]
    const float* rows = kvb.data() + h * (P + V) * L;
    for (int64_t p = 0; p < P; ++p) {
      for (int64_t c = 0; c < L; ++c) uk_t[c * P + p] = rows[p * L + c];
    }
    std::copy_n(rows + P * L, V * L, uv);
  }
  const void* base = nullptr;
  size_t elem = 4;
  if (bf16) {
    // Every value came from a BF16 weight, so the conversion back is exact.
    w.absorbed_bf16.resize(packed.size());
    for (size_t i = 0; i < packed.size(); ++i) w.absorbed_bf16[i] = f32_to_bf16(packed[i]);
    base = w.absorbed_bf16.data();
    elem = 2;
  } else {
    w.absorbed_f32 = std::move(packed);
    base = w.absorbed_f32.data();
  }
  const auto* bytes = static_cast<const uint8_t*>(base);
  for (int64_t h = 0; h < H; ++h) {
    WeightView uk;
    uk.encoding = bf16 ? WeightEncoding::kBF16 : WeightEncoding::kF32;
    uk.rows = L;
    uk.cols = P;
    uk.data = bytes + static_cast<size_t>(h * per_head) * elem;
    WeightView vv = uk;
    vv.rows = V;
    vv.cols = L;
    vv.data = bytes + static_cast<size_t>(h * per_head + L * P) * elem;
    w.uk_t.push_back(uk);
    w.uv.push_back(vv);
  }
}

}  // namespace

MlaWeights MlaWeights::bind(WeightBinder& binder, const io::ModelConfig& config, int64_t layer) {
  const io::MlaConfig& m = *config.mla;
  const int64_t hidden = config.hidden_size;
  const int64_t H = config.num_attention_heads;
  const int64_t D = m.qk_head_dim();
  const std::string p = fmt::format("model.layers.{}.self_attn", layer);
  MlaWeights w;
  w.q_lora = m.q_lora_rank > 0;
  if (w.q_lora) {
    w.q_a = binder.linear(p + ".q_a_proj", m.q_lora_rank, hidden);
    w.q_a_norm = binder.vector(p + ".q_a_layernorm.weight", m.q_lora_rank);
    w.q_b = binder.linear(p + ".q_b_proj", H * D, m.q_lora_rank);
  } else {
    w.q_proj = binder.linear(p + ".q_proj", H * D, hidden);
  }
  w.kv_a = binder.linear(p + ".kv_a_proj_with_mqa", m.kv_lora_rank + m.qk_rope_head_dim, hidden);
  w.kv_a_norm = binder.vector(p + ".kv_a_layernorm.weight", m.kv_lora_rank);
  w.kv_b = binder.linear(p + ".kv_b_proj", H * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank);
  w.o_proj = binder.linear(p + ".o_proj", hidden, H * m.v_head_dim);
  make_absorbed(w, H, m.qk_nope_head_dim, m.v_head_dim, m.kv_lora_rank);
  return w;
}

void mla_forward(const Compute& cx, const MlaContext& ctx, const MlaWeights& w, const float* x, int64_t T,
                 int64_t pos0, int64_t layer, const KvSequenceView& kv, MlaForm form, const ForwardOptions& options,
                 float* out) {
  const io::ModelConfig& cfg = *ctx.config;
  const io::MlaConfig& m = *cfg.mla;
  const int64_t H = cfg.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, R = m.qk_rope_head_dim, V = m.v_head_dim, L = m.kv_lora_rank;
  const int64_t D = P + R;
  const int64_t row = L + R;

  // Query: [T, H, D] = [nope P | rope R] per head.
  std::vector<float> q(static_cast<size_t>(T * H * D));
  if (w.q_lora) {
    std::vector<float> qa(static_cast<size_t>(T * m.q_lora_rank));  // [T, q_lora_rank]
    w.q_a.apply(cx, x, T, qa.data());
    cpu::rmsnorm(qa.data(), w.q_a_norm.data(), kLatentNormEps, T, m.q_lora_rank, qa.data());
    w.q_b.apply(cx, qa.data(), T, q.data());
  } else {
    w.q_proj.apply(cx, x, T, q.data());
  }
  cpu::apply_rope(q.data(), T, H, H * D, D, P, R, ctx.cos->data(), ctx.sin->data(), ctx.rope_layout);

  // Latent KV: [T, L + R] → normalised c_kv and rotated k_pe, written to the cache rows pos0..pos0+T-1.
  std::vector<float> kva(static_cast<size_t>(T * row));
  w.kv_a.apply(cx, x, T, kva.data());
  cpu::rmsnorm(kva.data(), row, w.kv_a_norm.data(), kLatentNormEps, T, L, kva.data(), row);
  cpu::apply_rope(kva.data(), T, 1, row, row, L, R, ctx.cos->data(), ctx.sin->data(), ctx.rope_layout);
  for (int64_t t = 0; t < T; ++t) std::copy_n(kva.data() + t * row, row, kv.row(layer, pos0 + t));
  dump_tensor(options, [&] { return fmt::format("layer.{}.attn.q", layer); }, {T, H, D}, q.data());
  dump_tensor(options, [&] { return fmt::format("layer.{}.attn.latent", layer); }, {T, row}, kva.data());

  const int64_t N = pos0 + T;  // kv tokens visible to the last query
  const bool absorbed = form == MlaForm::kAbsorbed || (form == MlaForm::kAuto && T == 1);
  std::vector<float> heads(static_cast<size_t>(T * H * V));  // [T, H, V] attention output per head
  cpu::AttentionParams ap;
  ap.num_queries = T;
  ap.num_kv = N;
  ap.q_pos0 = pos0;
  ap.num_q_heads = H;
  ap.softmax_scale = ctx.softmax_scale;

  if (!absorbed) {
    // Expanded: K [N, H, D], V viewed inside kv_b's output [N, H, P + V].
    std::vector<float> lat(static_cast<size_t>(N * L));
    for (int64_t n = 0; n < N; ++n) std::copy_n(kv.row(layer, n), L, lat.data() + n * L);
    std::vector<float> kvb(static_cast<size_t>(N * H * (P + V)));
    w.kv_b.apply(cx, lat.data(), N, kvb.data());
    std::vector<float> k(static_cast<size_t>(N * H * D));
    for (int64_t n = 0; n < N; ++n) {
      const float* k_pe = kv.row(layer, n) + L;
      for (int64_t h = 0; h < H; ++h) {
        float* dst = k.data() + (n * H + h) * D;
        std::copy_n(kvb.data() + (n * H + h) * (P + V), P, dst);
        std::copy_n(k_pe, R, dst + P);
      }
    }
    cpu::KvView view;
    view.k = k.data();
    view.k_token_stride = H * D;
    view.k_head_stride = D;
    view.v = kvb.data() + P;
    view.v_token_stride = H * (P + V);
    view.v_head_stride = P + V;
    ap.num_kv_heads = H;
    ap.qk_dim = D;
    ap.v_dim = V;
    ap.q_token_stride = H * D;
    ap.q_head_stride = D;
    ap.out_token_stride = H * V;
    ap.out_head_stride = V;
    cpu::attention(ap, q.data(), view, heads.data());
  } else {
    // Absorbed: q_abs [T, H, L + R] = [W_UK_hᵀ·q_nope_h | q_pe_h]; one shared kv head over the cache.
    // The per-head products are small ([L, P] · T rows), so heads are spread over the pool and each
    // head's matmul runs inline on its worker (nested loops of the pool run inline).
    std::vector<float> q_abs(static_cast<size_t>(T * H * row));
    std::vector<float> qn(static_cast<size_t>(H * T * P)), ql(static_cast<size_t>(H * T * L));  // [H, T, ·]
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < H; ++h) std::copy_n(q.data() + (t * H + h) * D, P, qn.data() + (h * T + t) * P);
    }
    cx.pool.parallel_for(H, [&](int64_t h, int) {
      cx.matmul(w.uk_t[h], qn.data() + h * T * P, T, ql.data() + h * T * L);  // [T, L]
    });
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        float* dst = q_abs.data() + (t * H + h) * row;
        std::copy_n(ql.data() + (h * T + t) * L, L, dst);
        std::copy_n(q.data() + (t * H + h) * D + P, R, dst + L);
      }
    }
    cpu::KvView view;
    view.k = (*kv.layer_base)[static_cast<size_t>(layer)];
    view.v = view.k;  // the value is the latent: the first L values of the same row
    view.k_token_stride = row;
    view.v_token_stride = row;
    view.block_table = kv.block_table;
    view.block_size = kv.block_size;
    view.k_block_stride = kv.block_size * row;
    view.v_block_stride = kv.block_size * row;
    ap.num_kv_heads = 1;
    ap.qk_dim = row;
    ap.v_dim = L;
    ap.q_token_stride = H * row;
    ap.q_head_stride = row;
    ap.out_token_stride = H * L;
    ap.out_head_stride = L;
    std::vector<float> o_lat(static_cast<size_t>(T * H * L));  // [T, H, L]
    cpu::attention(ap, q_abs.data(), view, o_lat.data());
    std::vector<float> ov(static_cast<size_t>(H * T * V));  // [H, T, V]
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < H; ++h) std::copy_n(o_lat.data() + (t * H + h) * L, L, ql.data() + (h * T + t) * L);
    }
    cx.pool.parallel_for(H, [&](int64_t h, int) {
      cx.matmul(w.uv[h], ql.data() + h * T * L, T, ov.data() + h * T * V);  // [T, V]
    });
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t h = 0; h < H; ++h) std::copy_n(ov.data() + (h * T + t) * V, V, heads.data() + (t * H + h) * V);
    }
  }
  dump_tensor(options, [&] { return fmt::format("layer.{}.attn.heads", layer); }, {T, H, V}, heads.data());
  w.o_proj.apply(cx, heads.data(), T, out);  // [T, hidden]
}

}  // namespace fp4::model
