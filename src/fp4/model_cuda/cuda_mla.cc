#include "fp4/model_cuda/cuda_mla.h"

#include <fmt/format.h>

#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/model_ops.h"
#include "fp4/base/error.h"

namespace fp4::model_cuda {
namespace {

// As model/mla.cc: HF builds q_a_layernorm and kv_a_layernorm without an eps argument (arch spec §3).
constexpr float kLatentNormEps = 1e-6f;

// Expanded form for one sequence (model/mla.cc attend_expanded): q [T, H, D] of its rows → heads [T, H, V].
// kv_b expands the sequence's whole cached latent (positions < pos0 + T) into per-head K and V.
void attend_expanded(const MlaStep& ms, const DeviceMla& w, const model::BatchSequence& seq, int64_t T,
                     int64_t layer, const float* q, float* heads, cudaStream_t st) {
  const io::ModelConfig& cfg = *ms.config;
  const io::MlaConfig& m = *cfg.mla;
  const int64_t H = cfg.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, R = m.qk_rope_head_dim, V = m.v_head_dim, L = m.kv_lora_rank;
  const int64_t D = P + R, row = L + R;
  const int64_t N = seq.pos0 + T;  // kv tokens visible to the last query
  const StreamArray<int32_t> slots = to_device<int32_t>(ms.model->sequence_slots(seq, N), st);
  const float* pool = ms.model->kv_pool(layer);
  StreamArray<float> lat(N * L, st);  // [N, L] cached latents
  StreamArray<float> kpe(N * R, st);  // [N, R] cached rotated k_pe
  cuda::gather_rows(pool, row, slots.get(), N, L, lat.get(), L, st);
  cuda::gather_rows(pool + L, row, slots.get(), N, R, kpe.get(), R, st);
  StreamArray<float> kvb(N * H * (P + V), st);  // [N, H, P + V]
  w.kv_b.apply(lat.get(), N, kvb.get(), st);
  StreamArray<float> k(N * H * D, st);  // [N, H, D] = [k_nope | k_pe]
  copy_rows(kvb.get(), P + V, k.get(), D, N * H, P, st);
  for (int64_t h = 0; h < H; ++h) copy_rows(kpe.get(), R, k.get() + h * D + P, H * D, N, R, st);
  const model::ExpandedMlaAttention a =
      model::expanded_mla_attention(cfg, T, seq.pos0, ms.softmax_scale, k.get(), kvb.get());
  cuda::attention(a.params, q, a.kv, heads, st);
}

// Absorbed form for the sequences `seqs` together (model/mla.cc attend_absorbed): their query rows are
// packed so that each head's W_UK_hᵀ and W_UV_h products run once over all of them; attention is per
// sequence over the paged latent cache. q [N, H, D] and heads [N, H, V] are the whole batch's rows; heads
// rows of these sequences are added into (the caller zeroes them).
void attend_absorbed(const MlaStep& ms, const DeviceMla& w, std::span<const model::BatchSequence> batch,
                     const std::vector<int64_t>& seqs, int64_t layer, const float* q, float* heads, cudaStream_t st) {
  const io::ModelConfig& cfg = *ms.config;
  const io::MlaConfig& m = *cfg.mla;
  const model::BatchRows& rows = ms.step->rows;
  const int64_t H = cfg.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, R = m.qk_rope_head_dim, V = m.v_head_dim, L = m.kv_lora_rank;
  const int64_t D = P + R, row = L + R;
  std::vector<int32_t> batch_row;  // packed row i → its row in the batch
  std::vector<int64_t> first;      // packed rows of seqs[j]: first[j] .. first[j+1]-1
  for (const int64_t s : seqs) {
    first.push_back(static_cast<int64_t>(batch_row.size()));
    for (int64_t t = 0; t < rows.count(s); ++t) batch_row.push_back(static_cast<int32_t>(rows.begin(s) + t));
  }
  first.push_back(static_cast<int64_t>(batch_row.size()));
  const auto M = static_cast<int64_t>(batch_row.size());
  const StreamArray<int32_t> index = to_device<int32_t>(batch_row, st);

  // q_abs [M, H, L + R] = [W_UK_hᵀ·q_nope_h | q_pe_h].
  StreamArray<float> qn(H * M * P, st);  // [H, M, P]
  StreamArray<float> ql(H * M * L, st);  // [H, M, L]
  StreamArray<float> q_abs(M * H * row, st);
  for (int64_t h = 0; h < H; ++h) {
    cuda::gather_rows(q + h * D, H * D, index.get(), M, P, qn.get() + h * M * P, P, st);
    cuda::matmul(w.uk_t[static_cast<size_t>(h)], qn.get() + h * M * P, cuda::ActDtype::kF32, M, ql.get() + h * M * L,
                 st);
    copy_rows(ql.get() + h * M * L, L, q_abs.get() + h * row, H * row, M, L, st);
    cuda::gather_rows(q + h * D + P, H * D, index.get(), M, R, q_abs.get() + h * row + L, H * row, st);
  }
  StreamArray<float> o_lat(M * H * L, st);  // [M, H, L]
  for (size_t j = 0; j < seqs.size(); ++j) {
    const int64_t s = seqs[j];
    const model::BatchSequence& seq = batch[static_cast<size_t>(s)];
    const int64_t T = rows.count(s);
    // One shared kv head: K is the whole cached row, V its first L values.
    const cpu::KvView view = ms.model->paged_view(*ms.step, s, layer, 0, 0);
    const cpu::AttentionParams ap = cpu::causal_chunk_params(T, seq.pos0, H, 1, row, L, ms.softmax_scale);
    const int64_t r0 = first[j];
    cuda::attention(ap, q_abs.get() + r0 * H * row, view, o_lat.get() + r0 * H * L, st);
  }
  // heads: o_h = W_UV_h · o_lat_h, one product per head over all M rows, placed at the batch rows.
  StreamArray<float> ov(M * V, st);  // [M, V] one head at a time
  for (int64_t h = 0; h < H; ++h) {
    copy_rows(o_lat.get() + h * L, H * L, ql.get() + h * M * L, L, M, L, st);
    cuda::matmul(w.uv[static_cast<size_t>(h)], ql.get() + h * M * L, cuda::ActDtype::kF32, M, ov.get(), st);
    cuda::scatter_add_rows(ov.get(), V, index.get(), nullptr, M, V, heads + h * V, H * V, st);
  }
}

}  // namespace

DeviceMla upload_mla(DeviceArena& arena, const model::MlaWeights& w, int64_t layer) {
  const std::string p = fmt::format("model.layers.{}.self_attn", layer);
  DeviceMla d;
  d.q_lora = w.q_lora;
  if (w.q_lora) {
    d.q_a = upload_linear(arena, w.q_a);
    d.q_a_norm = upload_vector(arena, w.q_a_norm, p + ".q_a_layernorm.weight");
    d.q_b = upload_linear(arena, w.q_b);
  } else {
    d.q_proj = upload_linear(arena, w.q_proj);
  }
  d.kv_a = upload_linear(arena, w.kv_a);
  d.kv_a_norm = upload_vector(arena, w.kv_a_norm, p + ".kv_a_layernorm.weight");
  d.kv_b = upload_linear(arena, w.kv_b);
  d.o_proj = upload_linear(arena, w.o_proj);
  for (size_t h = 0; h < w.uk_t.size(); ++h) {
    d.uk_t.push_back(upload_weight(arena, w.uk_t[h], fmt::format("{}.kv_b_proj (absorbed W_UK head {})", p, h)));
    d.uv.push_back(upload_weight(arena, w.uv[h], fmt::format("{}.kv_b_proj (absorbed W_UV head {})", p, h)));
  }
  return d;
}

void mla_forward_cuda(const MlaStep& ms, const DeviceMla& w, const float* x,
                      std::span<const model::BatchSequence> batch, int64_t layer, model::MlaForm form, float* out,
                      cudaStream_t st) {
  const io::ModelConfig& cfg = *ms.config;
  const io::MlaConfig& m = *cfg.mla;
  const model::BatchRows& rows = ms.step->rows;
  const int64_t H = cfg.num_attention_heads;
  const int64_t P = m.qk_nope_head_dim, R = m.qk_rope_head_dim, V = m.v_head_dim, L = m.kv_lora_rank;
  const int64_t D = P + R, row = L + R;
  const int64_t N = rows.n;
  const float* cos = ms.step->cos.get();
  const float* sin = ms.step->sin.get();

  // Query: [N, H, D] = [nope P | rope R] per head, every row rotated at its own position.
  StreamArray<float> q(N * H * D, st);
  if (w.q_lora) {
    StreamArray<float> qa(N * m.q_lora_rank, st);  // [N, q_lora_rank]
    w.q_a.apply(x, N, qa.get(), st);
    cuda::rmsnorm(qa.get(), m.q_lora_rank, w.q_a_norm, kLatentNormEps, N, m.q_lora_rank, qa.get(), m.q_lora_rank, st);
    w.q_b.apply(qa.get(), N, q.get(), st);
  } else {
    w.q_proj.apply(x, N, q.get(), st);
  }
  cuda::apply_rope(q.get(), N, H, H * D, D, P, R, cos, sin, ms.rope_layout, st);

  // Latent KV: [N, L + R] → normalised c_kv and rotated k_pe, each row written to its cache slot.
  StreamArray<float> kva(N * row, st);
  w.kv_a.apply(x, N, kva.get(), st);
  cuda::rmsnorm(kva.get(), row, w.kv_a_norm, kLatentNormEps, N, L, kva.get(), row, st);
  cuda::apply_rope(kva.get(), N, 1, row, row, L, R, cos, sin, ms.rope_layout, st);
  ms.model->write_kv(*ms.step, layer, kva.get(), row, row, 0);

  // Each sequence's form, as a single-sequence call with its T would choose.
  std::vector<int64_t> absorbed, expanded;
  for (int64_t s = 0; s < rows.sequences(); ++s) {
    const bool use_absorbed =
        form == model::MlaForm::kAbsorbed || (form == model::MlaForm::kAuto && rows.count(s) == 1);
    (use_absorbed ? absorbed : expanded).push_back(s);
  }
  StreamArray<float> heads(N * H * V, st);  // [N, H, V] attention output per head
  if (!absorbed.empty()) {
    heads.zero();  // the absorbed rows are scatter-added
    attend_absorbed(ms, w, batch, absorbed, layer, q.get(), heads.get(), st);
  }
  for (const int64_t s : expanded) {
    attend_expanded(ms, w, batch[static_cast<size_t>(s)], rows.count(s), layer, q.get() + rows.begin(s) * H * D,
                    heads.get() + rows.begin(s) * H * V, st);
  }
  w.o_proj.apply(heads.get(), N, out, st);  // [N, hidden]
}

}  // namespace fp4::model_cuda
