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

namespace {

// The rows of some of a batch's sequences, packed: entry i is batch sequence seq[i], whose rows are
// rows.first[i] .. rows.first[i+1]-1 of the packed tensors.
struct SequenceSubset {
  std::vector<int64_t> seq;
  BatchRows rows;
};

SequenceSubset subset(const BatchRows& rows, const std::vector<int64_t>& seq) {
  SequenceSubset out;
  out.seq = seq;
  out.rows.first.push_back(0);
  for (const int64_t s : seq) out.rows.first.push_back(out.rows.first.back() + rows.count(s));
  out.rows.n = out.rows.first.back();
  return out;
}

}  // namespace

ExpandedMlaAttention expanded_mla_attention(const io::ModelConfig& config, int64_t T, int64_t pos0,
                                            float softmax_scale, const float* k, const float* kvb) {
  const io::MlaConfig& m = *config.mla;
  const int64_t H = config.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, V = m.v_head_dim, D = m.qk_nope_head_dim + m.qk_rope_head_dim;
  ExpandedMlaAttention a;
  a.kv.k = k;
  a.kv.k_token_stride = H * D;
  a.kv.k_head_stride = D;
  a.kv.v = kvb + P;  // V viewed inside kv_b's output
  a.kv.v_token_stride = H * (P + V);
  a.kv.v_head_stride = P + V;
  a.params = cpu::causal_chunk_params(T, pos0, H, H, D, V, softmax_scale);
  return a;
}

namespace {

// Expanded form for one sequence: q [T, H, D] of its rows → heads [T, H, V]. kv_b expands the
// sequence's whole cached latent (positions < pos0 + T) into per-head K and V.
void attend_expanded(const Compute& cx, const MlaContext& ctx, const MlaWeights& w, const BatchSequence& seq,
                     int64_t T, int64_t layer, const float* q, float* heads) {
  const io::ModelConfig& cfg = *ctx.config;
  const io::MlaConfig& m = *cfg.mla;
  const int64_t H = cfg.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, R = m.qk_rope_head_dim, V = m.v_head_dim, L = m.kv_lora_rank;
  const int64_t D = P + R;
  const KvSequenceView& kv = seq.kv;
  const int64_t N = seq.pos0 + T;  // kv tokens visible to the last query
  std::vector<float> lat(static_cast<size_t>(N * L));  // [N, L] cached latents
  for (int64_t n = 0; n < N; ++n) std::copy_n(kv.row(layer, n), L, lat.data() + n * L);
  std::vector<float> kvb(static_cast<size_t>(N * H * (P + V)));  // [N, H, P + V]
  w.kv_b.apply(cx, lat.data(), N, kvb.data());
  std::vector<float> k(static_cast<size_t>(N * H * D));  // [N, H, D] = [k_nope | k_pe]
  for (int64_t n = 0; n < N; ++n) {
    const float* k_pe = kv.row(layer, n) + L;
    for (int64_t h = 0; h < H; ++h) {
      float* dst = k.data() + (n * H + h) * D;
      std::copy_n(kvb.data() + (n * H + h) * (P + V), P, dst);
      std::copy_n(k_pe, R, dst + P);
    }
  }
  const ExpandedMlaAttention a = expanded_mla_attention(cfg, T, seq.pos0, ctx.softmax_scale, k.data(), kvb.data());
  cpu::attention(cx.pool, a.params, q, a.kv, heads);
}

// Absorbed form for the sequences of `sub` together: their query rows are packed so that the per-head
// W_UK_hᵀ and W_UV_h products run once over all of them; attention itself is per sequence, over the
// latent cache. q [N, H, D] and heads [N, H, V] are the whole batch's rows.
void attend_absorbed(const Compute& cx, const MlaContext& ctx, const MlaWeights& w,
                     std::span<const BatchSequence> batch, const BatchRows& rows, const SequenceSubset& sub,
                     int64_t layer, const float* q, float* heads) {
  const io::ModelConfig& cfg = *ctx.config;
  const io::MlaConfig& m = *cfg.mla;
  const int64_t H = cfg.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, R = m.qk_rope_head_dim, V = m.v_head_dim, L = m.kv_lora_rank;
  const int64_t D = P + R;
  const int64_t row = L + R;
  const int64_t M = sub.rows.n;
  std::vector<int64_t> batch_row(static_cast<size_t>(M));  // packed row i → its row in the batch
  for (size_t i = 0; i < sub.seq.size(); ++i) {
    for (int64_t t = 0; t < rows.count(sub.seq[i]); ++t) {
      batch_row[static_cast<size_t>(sub.rows.first[i] + t)] = rows.begin(sub.seq[i]) + t;
    }
  }
  // q_abs [M, H, L + R] = [W_UK_hᵀ·q_nope_h | q_pe_h]. The per-head products are small ([L, P] · M rows),
  // so heads are spread over the pool and each head's matmul runs inline on its worker.
  std::vector<float> qn(static_cast<size_t>(H * M * P)), ql(static_cast<size_t>(H * M * L));  // [H, M, ·]
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t h = 0; h < H; ++h) std::copy_n(q + (batch_row[i] * H + h) * D, P, qn.data() + (h * M + i) * P);
  }
  cx.pool.parallel_for(H, [&](int64_t h, int) {
    cx.matmul(w.uk_t[h], qn.data() + h * M * P, M, ql.data() + h * M * L);  // [M, L]
  });
  std::vector<float> q_abs(static_cast<size_t>(M * H * row));
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t h = 0; h < H; ++h) {
      float* dst = q_abs.data() + (i * H + h) * row;
      std::copy_n(ql.data() + (h * M + i) * L, L, dst);
      std::copy_n(q + (batch_row[i] * H + h) * D + P, R, dst + L);
    }
  }
  std::vector<float> o_lat(static_cast<size_t>(M * H * L));  // [M, H, L]
  for_each_sequence(cx.pool, sub.rows, [&](int64_t i, ThreadPool& pool) {
    const BatchSequence& seq = batch[static_cast<size_t>(sub.seq[static_cast<size_t>(i)])];
    const KvSequenceView& kv = seq.kv;
    const int64_t T = sub.rows.count(i);
    cpu::KvView view;  // one shared kv head: K is the whole cached row, V its first L values
    view.k = (*kv.layer_base)[static_cast<size_t>(layer)];
    view.v = view.k;
    view.k_token_stride = row;
    view.v_token_stride = row;
    view.block_table = kv.block_table;
    view.block_size = kv.block_size;
    view.k_block_stride = kv.block_size * row;
    view.v_block_stride = kv.block_size * row;
    const cpu::AttentionParams ap = cpu::causal_chunk_params(T, seq.pos0, H, 1, row, L, ctx.softmax_scale);
    const int64_t r0 = sub.rows.begin(i);
    cpu::attention(pool, ap, q_abs.data() + r0 * H * row, view, o_lat.data() + r0 * H * L);
  });
  // heads: o_h = W_UV_h · o_lat_h, again one product per head over all M rows.
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t h = 0; h < H; ++h) std::copy_n(o_lat.data() + (i * H + h) * L, L, ql.data() + (h * M + i) * L);
  }
  std::vector<float> ov(static_cast<size_t>(H * M * V));  // [H, M, V]
  cx.pool.parallel_for(H, [&](int64_t h, int) {
    cx.matmul(w.uv[h], ql.data() + h * M * L, M, ov.data() + h * M * V);  // [M, V]
  });
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t h = 0; h < H; ++h) std::copy_n(ov.data() + (h * M + i) * V, V, heads + (batch_row[i] * H + h) * V);
  }
}

}  // namespace

void mla_forward(const Compute& cx, const MlaContext& ctx, const MlaWeights& w, const float* x,
                 std::span<const BatchSequence> batch, const BatchRows& rows, int64_t layer, MlaForm form,
                 const ForwardOptions& options, float* out) {
  const io::ModelConfig& cfg = *ctx.config;
  const io::MlaConfig& m = *cfg.mla;
  const int64_t H = cfg.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, R = m.qk_rope_head_dim, V = m.v_head_dim, L = m.kv_lora_rank;
  const int64_t D = P + R;
  const int64_t row = L + R;
  const int64_t N = rows.n;

  // Query: [N, H, D] = [nope P | rope R] per head, every row rotated at its own position.
  std::vector<float> q(static_cast<size_t>(N * H * D));
  if (w.q_lora) {
    std::vector<float> qa(static_cast<size_t>(N * m.q_lora_rank));  // [N, q_lora_rank]
    w.q_a.apply(cx, x, N, qa.data());
    cpu::rmsnorm(qa.data(), w.q_a_norm.data(), kLatentNormEps, N, m.q_lora_rank, qa.data());
    w.q_b.apply(cx, qa.data(), N, q.data());
  } else {
    w.q_proj.apply(cx, x, N, q.data());
  }
  cpu::apply_rope(q.data(), N, H, H * D, D, P, R, ctx.cos->data(), ctx.sin->data(), ctx.rope_layout);

  // Latent KV: [N, L + R] → normalised c_kv and rotated k_pe, each row written to its sequence's cache.
  std::vector<float> kva(static_cast<size_t>(N * row));
  w.kv_a.apply(cx, x, N, kva.data());
  cpu::rmsnorm(kva.data(), row, w.kv_a_norm.data(), kLatentNormEps, N, L, kva.data(), row);
  cpu::apply_rope(kva.data(), N, 1, row, row, L, R, ctx.cos->data(), ctx.sin->data(), ctx.rope_layout);
  for (int64_t s = 0; s < rows.sequences(); ++s) {
    const KvSequenceView& kv = batch[static_cast<size_t>(s)].kv;
    for (int64_t i = rows.begin(s); i < rows.begin(s) + rows.count(s); ++i) {
      std::copy_n(kva.data() + i * row, row, kv.row(layer, rows.positions[static_cast<size_t>(i)]));
    }
  }
  dump_tensor(options, [&] { return fmt::format("layer.{}.attn.q", layer); }, {N, H, D}, q.data());
  dump_tensor(options, [&] { return fmt::format("layer.{}.attn.latent", layer); }, {N, row}, kva.data());

  // Each sequence's form, as a single-sequence call with its T would choose.
  std::vector<int64_t> absorbed, expanded;
  for (int64_t s = 0; s < rows.sequences(); ++s) {
    const bool use_absorbed = form == MlaForm::kAbsorbed || (form == MlaForm::kAuto && rows.count(s) == 1);
    (use_absorbed ? absorbed : expanded).push_back(s);
  }
  std::vector<float> heads(static_cast<size_t>(N * H * V));  // [N, H, V] attention output per head
  if (!absorbed.empty()) attend_absorbed(cx, ctx, w, batch, rows, subset(rows, absorbed), layer, q.data(), heads.data());
  if (!expanded.empty()) {
    const SequenceSubset sub = subset(rows, expanded);
    for_each_sequence(cx.pool, sub.rows, [&](int64_t i, ThreadPool& pool) {
      const int64_t s = sub.seq[static_cast<size_t>(i)];
      const Compute on{pool, cx.exact, cx.fast, cx.observe};
      attend_expanded(on, ctx, w, batch[static_cast<size_t>(s)], rows.count(s), layer, q.data() + rows.begin(s) * H * D,
                      heads.data() + rows.begin(s) * H * V);
    });
  }
  dump_tensor(options, [&] { return fmt::format("layer.{}.attn.heads", layer); }, {N, H, V}, heads.data());
  w.o_proj.apply(cx, heads.data(), N, out);  // [N, hidden]
}

}  // namespace fp4::model
