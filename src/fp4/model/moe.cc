#include "fp4/model/moe.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "fp4/base/error.h"
#include "fp4/ops/activation.h"
#include "fp4/ops/softmax.h"
#include "fp4/ops/topk.h"

namespace fp4::model {

MoeWeights MoeWeights::bind(WeightBinder& binder, const io::ModelConfig& config, int64_t layer) {
  const io::MoeConfig& moe = *config.moe;
  const int64_t hidden = config.hidden_size;
  const std::string p = fmt::format("model.layers.{}.mlp", layer);
  MoeWeights w;
  w.router = binder.linear(p + ".gate", moe.n_routed_experts, hidden);
  if (moe.topk_method == "noaux_tc") {
    w.correction_bias = binder.vector(p + ".gate.e_score_correction_bias", moe.n_routed_experts);
  }
  w.experts.reserve(static_cast<size_t>(moe.n_routed_experts));
  for (int64_t e = 0; e < moe.n_routed_experts; ++e) {
    w.experts.push_back(binder.mlp(fmt::format("{}.experts.{}", p, e), hidden, moe.moe_intermediate_size));
  }
  if (moe.n_shared_experts > 0) {
    w.shared = binder.mlp(p + ".shared_experts", hidden, moe.moe_intermediate_size * moe.n_shared_experts);
  }
  return w;
}

Routing route(const Compute& cx, const io::MoeConfig& moe, const MoeWeights& w, const float* x, int64_t T) {
  const int64_t E = moe.n_routed_experts;
  const int64_t k = moe.num_experts_per_tok;
  const int64_t groups = moe.n_group;
  const int64_t per_group = E / groups;
  const bool noaux = moe.topk_method == "noaux_tc";
  const bool grouped = groups > 1 && (noaux || moe.topk_method == "group_limited_greedy");
  constexpr float kExcluded = -std::numeric_limits<float>::infinity();

  std::vector<float> scores(static_cast<size_t>(T * E));  // [T, E]
  w.router.apply(cx, x, T, scores.data());                // router logits, f32 accumulation
  if (moe.scoring_func == "sigmoid") {
    cpu::sigmoid(scores.data(), T * E, scores.data());
  } else {
    cpu::softmax(scores.data(), T, E, scores.data());
  }

  Routing r;
  r.top_k = k;
  r.experts.resize(static_cast<size_t>(T * k));
  r.weights.resize(static_cast<size_t>(T * k));
  std::vector<float> choice(static_cast<size_t>(E));
  std::vector<float> group_score(static_cast<size_t>(groups));
  std::vector<int32_t> kept(static_cast<size_t>(std::max<int64_t>(moe.topk_group, 2)));
  std::vector<float> top2(2);
  for (int64_t t = 0; t < T; ++t) {
    const float* s = scores.data() + t * E;
    for (int64_t e = 0; e < E; ++e) choice[e] = noaux ? s[e] + w.correction_bias[e] : s[e];
    if (grouped) {
      for (int64_t g = 0; g < groups; ++g) {
        const float* b = choice.data() + g * per_group;
        if (noaux) {
          // Sum of the two largest selection scores of the group (a group of one counts its only score).
          const int64_t n2 = std::min<int64_t>(2, per_group);
          cpu::topk(b, per_group, n2, kept.data(), top2.data());
          group_score[g] = n2 == 2 ? top2[0] + top2[1] : top2[0];
        } else {
          group_score[g] = *std::max_element(b, b + per_group);
        }
      }
      cpu::topk(group_score.data(), groups, moe.topk_group, kept.data(), nullptr);
      std::vector<bool> keep(static_cast<size_t>(groups), false);
      for (int64_t i = 0; i < moe.topk_group; ++i) keep[kept[i]] = true;
      for (int64_t g = 0; g < groups; ++g) {
        if (!keep[g]) std::fill_n(choice.data() + g * per_group, per_group, kExcluded);
      }
    }
    int32_t* idx = r.experts.data() + t * k;
    float* wt = r.weights.data() + t * k;
    cpu::topk(choice.data(), E, k, idx, nullptr);
    std::sort(idx, idx + k);  // ascending ids: the order HF accumulates experts in
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      wt[j] = s[idx[j]];  // the unbiased score
      sum += wt[j];
    }
    if (moe.norm_topk_prob) {
      // HF adds 1e-20 to the denominator; DeepSeek's reference divides without it (same in practice).
      const float denom = sum + 1e-20f;
      for (int64_t j = 0; j < k; ++j) wt[j] /= denom;
    }
    const float scale = static_cast<float>(moe.routed_scaling_factor);
    for (int64_t j = 0; j < k; ++j) wt[j] *= scale;
  }
  return r;
}

void moe_forward(const Compute& cx, const io::MoeConfig& moe, const MoeWeights& w, const float* x, int64_t T,
                 int64_t layer, const ForwardOptions& options, float* y) {
  const int64_t E = moe.n_routed_experts;
  const int64_t H = w.router.in_features();
  const Routing r = route(cx, moe, w, x, T);
  const int64_t k = r.top_k;

  // Group (token, slot) pairs by expert: a counting sort keeps each expert's tokens in token order.
  std::vector<int64_t> start(static_cast<size_t>(E + 1), 0);
  for (int64_t i = 0; i < T * k; ++i) start[r.experts[i] + 1] += 1;
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int64_t> assignment(static_cast<size_t>(T * k));  // flat index t·k + j, grouped by expert
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < T * k; ++i) assignment[fill[r.experts[i]]++] = i;
  }

  std::fill_n(y, T * H, 0.0f);
  std::vector<float> xe, ye, scratch;
  for (int64_t e = 0; e < E; ++e) {  // ascending expert id, as HF's index_add_ loop
    const int64_t n = start[e + 1] - start[e];
    if (n == 0) continue;
    xe.resize(static_cast<size_t>(n * H));  // [n, H] the tokens routed to expert e
    ye.resize(static_cast<size_t>(n * H));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = assignment[start[e] + i] / k;
      std::copy_n(x + t * H, H, xe.data() + i * H);
    }
    w.experts[e].apply(cx, xe.data(), n, ye.data(), scratch);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t flat = assignment[start[e] + i];
      const int64_t t = flat / k;
      const float weight = r.weights[flat];
      float* dst = y + t * H;
      const float* src = ye.data() + i * H;
      for (int64_t c = 0; c < H; ++c) dst[c] += src[c] * weight;
    }
  }
  if (w.shared) {
    ye.resize(static_cast<size_t>(T * H));
    w.shared->apply(cx, x, T, ye.data(), scratch);
    add_inplace(y, ye.data(), T * H);
  }
  if (options.routing != nullptr) {
    options.routing->push_back(RoutingRecord{layer, T, k, r.experts, r.weights});
  }
}

}  // namespace fp4::model
