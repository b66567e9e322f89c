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
  std::vector<float> logits(static_cast<size_t>(T * moe.n_routed_experts));  // [T, E]
  w.router.apply(cx, x, T, logits.data());                                    // f32 accumulation
  return route_from_logits(moe, w.correction_bias, logits.data(), T);
}

Routing route_from_logits(const io::MoeConfig& moe, const std::vector<float>& correction_bias, float* scores,
                          int64_t T) {
  const int64_t E = moe.n_routed_experts;
  const int64_t k = moe.num_experts_per_tok;
  const int64_t groups = moe.n_group;
  const int64_t per_group = E / groups;
  const bool noaux = moe.topk_method == "noaux_tc";
  FP4_CHECK(!noaux || static_cast<int64_t>(correction_bias.size()) == E,
            "MoE routing: noaux_tc needs {} correction biases, got {}", E, correction_bias.size());
  const bool grouped = groups > 1 && (noaux || moe.topk_method == "group_limited_greedy");
  constexpr float kExcluded = -std::numeric_limits<float>::infinity();

  // Row by row, so that each token's values take the same (vector or scalar-tail) code path whatever T
  // is: a token's routing does not depend on what else is in the batch.
  for (int64_t t = 0; t < T; ++t) {
    float* row = scores + t * E;
    if (moe.scoring_func == "sigmoid") {
      cpu::sigmoid(row, E, row);
    } else {
      cpu::softmax(row, 1, E, row);
    }
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
    const float* s = scores + t * E;
    for (int64_t e = 0; e < E; ++e) choice[e] = noaux ? s[e] + correction_bias[e] : s[e];
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

  // Work items: every routed expert that got tokens, and the shared expert over all T rows. Each item's
  // gathered input and output get their own slice: xs [Σn, H] and ys [Σn + T, H] (routed, then shared).
  struct Item {
    const GatedMlp* mlp;
    const float* x;   // [n, H]
    float* y;         // [n, H]
    int64_t n;
  };
  const int64_t routed_rows = T * k;
  std::vector<float> xs(static_cast<size_t>(routed_rows * H));
  std::vector<float> ys(static_cast<size_t>((routed_rows + (w.shared ? T : 0)) * H));
  std::vector<Item> items;
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = start[e + 1] - start[e];
    if (n == 0) continue;
    float* xe = xs.data() + start[e] * H;  // [n, H] the tokens routed to expert e, in token order
    for (int64_t i = 0; i < n; ++i) std::copy_n(x + assignment[start[e] + i] / k * H, H, xe + i * H);
    items.push_back({&w.experts[e], xe, ys.data() + start[e] * H, n});
  }
  if (w.shared) items.push_back({&*w.shared, x, ys.data() + routed_rows * H, T});

  // Each item is a few small matmuls. When there are enough of them, the items themselves are spread
  // over the pool (their matmuls run inline on the worker, one dispatch for the layer instead of three
  // per item); otherwise each item's matmuls use the whole pool. Either way each output row is computed
  // by the same kernel in the same order, so the result does not depend on the choice.
  ThreadPool& pool = cx.pool;
  if (pool.size() > 1 && static_cast<int64_t>(items.size()) >= 2 * pool.size()) {
    // Largest first, so the last items to start are the short ones.
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      return a.n * a.mlp->intermediate() > b.n * b.mlp->intermediate();
    });
    std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.size()));  // [thread]
    pool.parallel_for(static_cast<int64_t>(items.size()), [&](int64_t i, int thread) {
      const Item& it = items[static_cast<size_t>(i)];
      it.mlp->apply(cx, it.x, it.n, it.y, scratch[static_cast<size_t>(thread)]);
    });
  } else {
    std::vector<float> scratch;
    for (const Item& it : items) it.mlp->apply(cx, it.x, it.n, it.y, scratch);
  }

  // y = Σ over experts in ascending id (HF's index_add_ order) of weight · expert(x), then + shared(x).
  std::fill_n(y, T * H, 0.0f);
  for (int64_t e = 0; e < E; ++e) {
    for (int64_t i = start[e]; i < start[e + 1]; ++i) {
      const int64_t flat = assignment[i];
      const float weight = r.weights[flat];
      float* dst = y + flat / k * H;
      const float* src = ys.data() + i * H;
      for (int64_t c = 0; c < H; ++c) dst[c] += src[c] * weight;
    }
  }
  if (w.shared) add_inplace(y, ys.data() + routed_rows * H, T * H);
  if (options.routing != nullptr) {
    options.routing->push_back(RoutingRecord{layer, T, k, r.experts, r.weights});
  }
}

}  // namespace fp4::model
