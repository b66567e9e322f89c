// Attention scalar reference: for each query row, every visible score in double, an exact two-pass
// softmax, and the weighted sum of V in double; one f32 rounding per output.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fp4/ops/attention.h"

namespace fp4::cpu::reference {

void attention(const AttentionParams& p, const float* q, const KvView& kv, float* out) {
  validate_attention(p, q, kv, out);
  const int64_t n_rep = p.num_q_heads / p.num_kv_heads;
  std::vector<double> weights(static_cast<size_t>(p.num_kv));
  std::vector<double> sum_v(static_cast<size_t>(p.v_dim));
  for (int64_t t = 0; t < p.num_queries; ++t) {
    const int64_t visible = p.q_pos0 + t + 1;
    for (int64_t h = 0; h < p.num_q_heads; ++h) {
      const int64_t g = h / n_rep;
      const float* qh = q + t * p.q_token_stride + h * p.q_head_stride;
      double max_score = -std::numeric_limits<double>::infinity();
      for (int64_t u = 0; u < visible; ++u) {
        const float* k = kv.k_row(u, g);
        double dot = 0.0;
        for (int64_t i = 0; i < p.qk_dim; ++i) dot += static_cast<double>(qh[i]) * k[i];
        weights[static_cast<size_t>(u)] = dot * static_cast<double>(p.softmax_scale);
        max_score = std::max(max_score, weights[static_cast<size_t>(u)]);
      }
      double denominator = 0.0;
      for (int64_t u = 0; u < visible; ++u) {
        weights[static_cast<size_t>(u)] = std::exp(weights[static_cast<size_t>(u)] - max_score);
        denominator += weights[static_cast<size_t>(u)];
      }
      std::fill(sum_v.begin(), sum_v.end(), 0.0);
      for (int64_t u = 0; u < visible; ++u) {
        const float* v = kv.v_row(u, g);
        for (int64_t i = 0; i < p.v_dim; ++i) sum_v[static_cast<size_t>(i)] += weights[static_cast<size_t>(u)] * v[i];
      }
      float* oh = out + t * p.out_token_stride + h * p.out_head_stride;
      for (int64_t i = 0; i < p.v_dim; ++i) oh[i] = static_cast<float>(sum_v[static_cast<size_t>(i)] / denominator);
    }
  }
}

}  // namespace fp4::cpu::reference
