// DeepSeek mixture of experts (V2 and V3): route every token, then run each selected expert once over
// all the tokens routed to it (one matmul per expert per step), then add the shared expert.
//
// Routing, as Hugging Face transformers computes it (arch spec §6):
//   logits = x · W_gateᵀ in f32; s = sigmoid(logits) (V3) or softmax(logits) (V2)
//   selection scores b = s + e_score_correction_bias (noaux_tc; the bias is used for selection only)
//   group-limited: group score = sum of the 2 largest b (noaux_tc) or max s (group_limited_greedy);
//     keep the topk_group best groups; experts of other groups are excluded (−inf)
//   top-k of the (masked) selection scores; weights w = s[idx] (unbiased);
//   norm_topk_prob: w /= Σw + 1e-20; then w *= routed_scaling_factor
//   y = Σ_experts in ascending id (w · expert(x)) + shared(x)
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/io/model_config.h"
#include "fp4/model/model.h"
#include "fp4/model/weights.h"

namespace fp4::model {

struct MoeWeights {
  Linear router;                      // [n_routed_experts, hidden], kept in its float dtype
  std::vector<float> correction_bias; // [n_routed_experts] for noaux_tc, else empty
  std::vector<GatedMlp> experts;      // [n_routed_experts]
  std::optional<GatedMlp> shared;     // n_shared_experts · moe_intermediate_size wide

  static MoeWeights bind(WeightBinder& binder, const io::ModelConfig& config, int64_t layer);
};

// The routing decision for T tokens.
struct Routing {
  int64_t top_k = 0;
  std::vector<int32_t> experts;  // [T, top_k]
  std::vector<float> weights;    // [T, top_k]
};

// Selects experts for every token. x: [T, hidden].
Routing route(const Compute& cx, const io::MoeConfig& moe, const MoeWeights& w, const float* x, int64_t T);

// The routing decision from router logits already computed (logits [T, n_routed_experts] = x · W_gateᵀ,
// overwritten with the scores): what route() does after its matmul, so that a backend computing the
// logits elsewhere (the GPU) makes the same decision. correction_bias: [n_routed_experts] for noaux_tc.
Routing route_from_logits(const io::MoeConfig& moe, const std::vector<float>& correction_bias, float* logits,
                          int64_t T);

// y: [T, hidden] = routed experts + shared expert of x [T, hidden]. In a batched forward T is every
// row of the batch (N), so each chosen expert's weights are read once per step for all the tokens that
// chose it. Appends a RoutingRecord over those T rows (batch order) to options.routing when set.
void moe_forward(const Compute& cx, const io::MoeConfig& moe, const MoeWeights& w, const float* x, int64_t T,
                 int64_t layer, const ForwardOptions& options, float* y);

}  // namespace fp4::model
