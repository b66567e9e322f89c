// Op cases for the RoPE rotation and for attention (GQA, expanded MLA, absorbed MLA; contiguous and
// paged K/V). Bounds are derived from the fast path's arithmetic; u = 2^-24.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "unit/ops/op_harness.h"

namespace fp4::test {
namespace {

const char* layout_name(cpu::RopeLayout layout) {
  switch (layout) {
    case cpu::RopeLayout::kHalf: return "half";
    case cpu::RopeLayout::kInterleaved: return "interleaved";
    case cpu::RopeLayout::kInterleavedPairs: return "interleaved-pairs";
  }
  return "?";
}

class RopeCase : public OpCase {
 public:
  RopeCase(Rng& rng, int64_t tokens, int64_t heads, int64_t rotary_dim, int64_t rot_offset, int64_t tail,
           cpu::RopeLayout layout, const RopeConfig& config)
      : tokens_(tokens), heads_(heads), rotary_dim_(rotary_dim), rot_offset_(rot_offset), layout_(layout) {
    head_stride_ = rot_offset + rotary_dim + tail;
    token_stride_ = heads * head_stride_ + rng.integer(0, 3);
    x_ = rng.normals(tokens * token_stride_, 1.0f);
    std::vector<int32_t> positions(static_cast<size_t>(tokens));
    for (auto& p : positions) p = static_cast<int32_t>(rng.integer(0, 200000));
    RopeConfig c = config;
    c.rotary_dim = rotary_dim;
    const RopeFrequencies freqs = rope_frequencies(c);
    cos_.resize(static_cast<size_t>(tokens * rotary_dim / 2));
    sin_.resize(cos_.size());
    cpu::rope_cos_sin(freqs, positions.data(), tokens, cos_.data(), sin_.data());
  }
  std::string name() const override {
    return fmt::format("rope {} T={} H={} rot={} offset={} head_stride={}", layout_name(layout_), tokens_, heads_,
                       rotary_dim_, rot_offset_, head_stride_);
  }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<float> x = x_;
    b.apply_rope(x.data(), tokens_, heads_, token_stride_, head_stride_, rot_offset_, rotary_dim_, cos_.data(),
                 sin_.data(), layout_);
    return x;
  }
  std::vector<double> error_bound(const std::vector<float>&) const override {
    // Each output is written as fl(fl(a·c) ∓ fl(b·s)) in both implementations, but the compiler may
    // contract one product into the add as an FMA on targets that have it (C++ allows it; GCC does it by
    // default), which skips that product's rounding (≤ u·|a·c|) and rounds a different exact value
    // (≤ 0.5 ulp each side, ≤ 2u·|out| in total). |out| ≤ |a·c| + |b·s|, so the two results differ by
    // at most 3u·(|a|+|b|)·(|c|+|s|). Elements outside the rotary slices must stay untouched (0).
    std::vector<double> bound(x_.size(), 0.0);
    const int64_t half = rotary_dim_ / 2;
    for (int64_t t = 0; t < tokens_; ++t) {
      for (int64_t h = 0; h < heads_; ++h) {
        const int64_t base = t * token_stride_ + h * head_stride_ + rot_offset_;
        for (int64_t i = 0; i < half; ++i) {
          const bool interleaved = layout_ != cpu::RopeLayout::kHalf;
          const double a = x_[static_cast<size_t>(base + (interleaved ? 2 * i : i))];
          const double b = x_[static_cast<size_t>(base + (interleaved ? 2 * i + 1 : half + i))];
          const double c = std::fabs(cos_[static_cast<size_t>(t * half + i)]);
          const double s = std::fabs(sin_[static_cast<size_t>(t * half + i)]);
          const double e = 3.0 * kUnitRoundoff * (std::fabs(a) + std::fabs(b)) * (c + s);
          bound[static_cast<size_t>(base + 2 * i)] = std::max(bound[static_cast<size_t>(base + 2 * i)], e);
          bound[static_cast<size_t>(base + 2 * i + 1)] = std::max(bound[static_cast<size_t>(base + 2 * i + 1)], e);
          bound[static_cast<size_t>(base + i)] = std::max(bound[static_cast<size_t>(base + i)], e);
          bound[static_cast<size_t>(base + half + i)] = std::max(bound[static_cast<size_t>(base + half + i)], e);
        }
      }
    }
    return bound;
  }

 private:
  int64_t tokens_, heads_, rotary_dim_, rot_offset_, head_stride_ = 0, token_stride_ = 0;
  cpu::RopeLayout layout_;
  std::vector<float> x_, cos_, sin_;
};

enum class AttentionKind { kGqa, kMlaExpanded, kMlaAbsorbed };

class AttentionCase : public OpCase {
 public:
  AttentionCase(Rng& rng, AttentionKind kind, int64_t num_queries, int64_t past, int64_t q_heads, int64_t kv_heads,
                int64_t qk_dim, int64_t v_dim, int64_t block_size)
      : kind_(kind), block_size_(block_size) {
    p_.num_queries = num_queries;
    p_.q_pos0 = past;
    p_.num_kv = past + num_queries;
    p_.num_q_heads = q_heads;
    p_.num_kv_heads = kv_heads;
    p_.qk_dim = qk_dim;
    p_.v_dim = v_dim;
    p_.softmax_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(qk_dim)));
    if (kind == AttentionKind::kMlaAbsorbed) p_.softmax_scale = 0.13523378f;  // R1's 192-based scale with m²
    p_.q_token_stride = q_heads * qk_dim;
    p_.q_head_stride = qk_dim;
    p_.out_token_stride = q_heads * v_dim;
    p_.out_head_stride = v_dim;
    q_ = rng.normals(num_queries * p_.q_token_stride, 1.0f);

    // K/V storage: [blocks, block_size, kv_heads, dim]; absorbed MLA reads V from K's rows.
    const int64_t slots = block_size > 0 ? block_size : p_.num_kv;
    const int64_t blocks = block_size > 0 ? (p_.num_kv + block_size - 1) / block_size + 2 : 1;
    const int64_t k_token_stride = kv_heads * qk_dim;
    k_ = rng.normals(blocks * slots * k_token_stride, 1.0f);
    kv_.k = k_.data();
    kv_.k_token_stride = k_token_stride;
    kv_.k_head_stride = qk_dim;
    kv_.k_block_stride = slots * k_token_stride;
    if (kind == AttentionKind::kMlaAbsorbed) {
      kv_.v = k_.data();
      kv_.v_token_stride = kv_.k_token_stride;
      kv_.v_head_stride = kv_.k_head_stride;
      kv_.v_block_stride = kv_.k_block_stride;
    } else {
      const int64_t v_token_stride = kv_heads * v_dim;
      v_ = rng.normals(blocks * slots * v_token_stride, 1.0f);
      kv_.v = v_.data();
      kv_.v_token_stride = v_token_stride;
      kv_.v_head_stride = v_dim;
      kv_.v_block_stride = slots * v_token_stride;
    }
    if (block_size > 0) {  // a shuffled block table, as a shared pool hands blocks out
      table_.resize(static_cast<size_t>(blocks));
      std::iota(table_.begin(), table_.end(), 0);
      std::shuffle(table_.begin(), table_.end(), rng.engine());
      kv_.block_table = table_.data();
      kv_.block_size = block_size;
    }
  }
  std::string name() const override {
    static constexpr const char* kKinds[] = {"gqa", "mla-expanded", "mla-absorbed"};
    return fmt::format("attention {} T={} past={} H={} G={} Dk={} Dv={} {}", kKinds[static_cast<int>(kind_)],
                       p_.num_queries, p_.q_pos0, p_.num_q_heads, p_.num_kv_heads, p_.qk_dim, p_.v_dim,
                       block_size_ > 0 ? fmt::format("paged block={}", block_size_) : std::string("contiguous"));
  }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<float> out(static_cast<size_t>(p_.num_queries * p_.out_token_stride), NAN);
    b.attention(p_, q_.data(), kv_, out.data());
    return out;
  }
  std::vector<double> error_bound(const std::vector<float>& ref) const override {
    // Per output row (t, h) over its n visible keys, with exact scores s_j, m = max s, p = softmax(s):
    //  - score: an f32 dot of length Dk in any order, then · scale:
    //      Δs_j ≤ γ_Dk · scale · Σ_i |q_i k_ji| + u·|s_j|
    //  - unnormalised weight exp(ŝ_j − m̂): relative error δ_j ≤ Δs_j + u·|s_j − m| (the subtraction)
    //    + 2u (exp within 1 ulp). The running max m̂ is common to all j and cancels in acc / l; so do the
    //    rescale factors exp(m_old − m_new), applied to acc and l alike. Each rescale still rounds acc and
    //    l once (u each); there are fewer rescales than keys.
    //  - acc = Σ p̃_j v_j and l = Σ p̃_j in f32: γ_(2n) relative to Σ p̃_j |v_j| and Σ p̃_j.
    //  - out = acc · (1/l): 2u. A ratio whose numerator terms and denominator each move by ≤ δ moves by
    //    ≤ 2δ · Σ p_j |v_j|. Reference: 1u·|out|. So
    //      |Δout_i| ≤ (2·max_j δ_j + 2γ_(2n) + 2u) · Σ_j p_j |v_ji| + u·|out_i|, with 1% for 2nd order.
    const double u = kUnitRoundoff;
    const int64_t n_rep = p_.num_q_heads / p_.num_kv_heads;
    std::vector<double> bound(ref.size(), 0.0);
    std::vector<double> s, abs_dot;
    for (int64_t t = 0; t < p_.num_queries; ++t) {
      const int64_t n = p_.q_pos0 + t + 1;
      for (int64_t h = 0; h < p_.num_q_heads; ++h) {
        const int64_t g = h / n_rep;
        const float* qh = q_.data() + t * p_.q_token_stride + h * p_.q_head_stride;
        s.assign(static_cast<size_t>(n), 0.0);
        abs_dot.assign(static_cast<size_t>(n), 0.0);
        double m = -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
          const float* k = kv_.k_row(j, g);
          double dot = 0, adot = 0;
          for (int64_t i = 0; i < p_.qk_dim; ++i) {
            dot += static_cast<double>(qh[i]) * k[i];
            adot += std::fabs(static_cast<double>(qh[i]) * k[i]);
          }
          s[static_cast<size_t>(j)] = dot * p_.softmax_scale;
          abs_dot[static_cast<size_t>(j)] = adot * p_.softmax_scale;
          m = std::max(m, s[static_cast<size_t>(j)]);
        }
        double delta = 0, denominator = 0;
        for (int64_t j = 0; j < n; ++j) {
          const double sj = s[static_cast<size_t>(j)];
          const double ds = gamma_n(p_.qk_dim) * abs_dot[static_cast<size_t>(j)] + u * std::fabs(sj);
          delta = std::max(delta, ds + u * (m - sj) + 2 * u);
          denominator += std::exp(sj - m);
        }
        const double factor = 2 * delta + 2 * gamma_n(2 * n) + 2 * u;
        for (int64_t i = 0; i < p_.v_dim; ++i) {
          double weighted = 0;
          for (int64_t j = 0; j < n; ++j) {
            weighted += std::exp(s[static_cast<size_t>(j)] - m) / denominator * std::fabs(kv_.v_row(j, g)[i]);
          }
          const size_t o = static_cast<size_t>(t * p_.out_token_stride + h * p_.out_head_stride + i);
          bound[o] = 1.01 * (factor * weighted + u * std::fabs(ref[o]));
        }
      }
    }
    return bound;
  }

 private:
  AttentionKind kind_;
  int64_t block_size_;
  cpu::AttentionParams p_;
  cpu::KvView kv_;
  std::vector<float> q_, k_, v_;
  std::vector<int32_t> table_;
};

RopeConfig random_rope_config(Rng& rng) {
  RopeConfig c;
  c.theta = rng.integer(0, 1) ? 10000.0 : 1000000.0;
  c.max_position_embeddings = 163840;
  switch (rng.integer(0, 3)) {
    case 0: c.scaling = RopeScalingType::kNone; break;
    case 1: c.scaling = RopeScalingType::kLinear; c.linear_factor = 4.0; break;
    case 2:
      c.scaling = RopeScalingType::kYarn;
      c.yarn.factor = 40.0;
      c.yarn.original_max_position_embeddings = 4096;
      c.yarn.mscale = 1.0;
      c.yarn.mscale_all_dim = 1.0;
      break;
    default: c.scaling = RopeScalingType::kLlama3; c.theta = 500000.0; break;
  }
  return c;
}

}  // namespace

std::vector<std::unique_ptr<OpCase>> make_rope_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> cases;
  RopeConfig r1;
  r1.theta = 10000.0;
  r1.max_position_embeddings = 163840;
  r1.scaling = RopeScalingType::kYarn;
  r1.yarn.factor = 40.0;
  r1.yarn.original_max_position_embeddings = 4096;
  r1.yarn.mscale = 1.0;
  r1.yarn.mscale_all_dim = 1.0;
  // DeepSeek q [T, 128, 192] rope slice at 128, and k_pe at 512 of the 576-wide kv_a row.
  cases.push_back(std::make_unique<RopeCase>(rng, 3, 128, 64, 128, 0, cpu::RopeLayout::kInterleaved, r1));
  cases.push_back(std::make_unique<RopeCase>(rng, 5, 1, 64, 512, 0, cpu::RopeLayout::kInterleaved, r1));
  for (int i = 0; i < count; ++i) {
    const auto layout = static_cast<cpu::RopeLayout>(rng.integer(0, 2));
    const int64_t rotary_dim = 2 * rng.ragged(100);
    cases.push_back(std::make_unique<RopeCase>(rng, rng.integer(1, 6), rng.integer(1, 9), rotary_dim,
                                               rng.integer(0, 1) ? 0 : rng.ragged(40), rng.integer(0, 5), layout,
                                               random_rope_config(rng)));
  }
  return cases;
}

std::vector<std::unique_ptr<OpCase>> make_attention_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> cases;
  // Model-shaped: Llama-8B-like GQA prefill chunk after a paged past; MLA expanded prefill; MLA absorbed
  // decode (1 kv head of 576, 16 query heads).
  cases.push_back(std::make_unique<AttentionCase>(rng, AttentionKind::kGqa, 5, 37, 8, 2, 128, 128, 16));
  cases.push_back(std::make_unique<AttentionCase>(rng, AttentionKind::kMlaExpanded, 9, 0, 4, 4, 192, 128, 0));
  cases.push_back(std::make_unique<AttentionCase>(rng, AttentionKind::kMlaAbsorbed, 1, 150, 16, 1, 576, 512, 64));
  for (int i = 0; i < count; ++i) {
    const auto kind = static_cast<AttentionKind>(rng.integer(0, 2));
    const int64_t tokens = rng.integer(1, 6);
    const int64_t past = rng.integer(0, 1) ? 0 : rng.integer(1, 150);
    const int64_t block = rng.integer(0, 1) ? 0 : rng.integer(1, 20);
    if (kind == AttentionKind::kGqa) {
      const int64_t g = rng.integer(1, 3);
      const int64_t d = rng.ragged(130);
      cases.push_back(std::make_unique<AttentionCase>(rng, kind, tokens, past, g * rng.integer(1, 4), g, d, d, block));
    } else if (kind == AttentionKind::kMlaExpanded) {
      const int64_t h = rng.integer(1, 4);
      cases.push_back(
          std::make_unique<AttentionCase>(rng, kind, tokens, past, h, h, rng.ragged(200), rng.ragged(130), block));
    } else {
      const int64_t latent = rng.ragged(300);
      cases.push_back(std::make_unique<AttentionCase>(rng, kind, tokens, past, rng.integer(1, 20), 1,
                                                      latent + rng.ragged(70), latent, block));
    }
  }
  return cases;
}

}  // namespace fp4::test
