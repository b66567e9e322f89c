// Logit-level comparison of two models over the same tokens: KL-divergence of the candidate's next-token
// distribution from the base's, top-1 agreement, and both perplexities (the measures llama.cpp reports for
// a quantized model against its full-precision original).
//
// The tokens are cut into windows of `ctx` tokens (stride ctx, the tail that does not fill a window is
// unused). Each window is one fresh sequence: both models prefill it with all logits, and positions
// [first_scored, ctx - 1) are scored, where row t predicts token t + 1 of the window. By default
// first_scored = ctx / 2 as llama.cpp does, so every scored token has at least ctx / 2 tokens of context;
// `score_all_positions` scores from row 0 (useful for short inputs).
//
// All arithmetic after the logits is f64: log-softmax of each row, then per position
//   KL(P_base || P_cand) = Σ_v p_base(v) · (log p_base(v) − log p_cand(v)).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fp4/model/model.h"

namespace fp4::eval {

// out[v] = logits[v] − log Σ_w exp(logits[w]), in f64 (max-subtracted). Throws fp4::Error for a
// non-finite logit (the row cannot define a distribution).
void log_softmax(std::span<const float> logits, std::vector<double>& out);

// Index of the largest logit; the lowest index among equal maxima.
int64_t argmax(std::span<const float> logits);

// The measures of one scored position.
struct PositionScore {
  double kl = 0.0;        // KL(P_base || P_cand) in nats, ≥ 0
  bool top1_agree = false;  // argmax of both rows equal
  double base_nll = 0.0;  // −log p_base(next token)
  double cand_nll = 0.0;  // −log p_cand(next token)
};

// Scores one position from the two logits rows [vocab] and the token that actually follows.
// Throws fp4::Error when the rows differ in length or next_token is outside them.
PositionScore score_position(std::span<const float> base_logits, std::span<const float> cand_logits,
                             int32_t next_token);

// Summary over all scored positions.
struct KldSummary {
  int64_t positions = 0;
  double kl_mean = 0.0;
  // Half-width of the 95% confidence interval of the mean: 1.96 · sd / √n with the sample standard
  // deviation (n − 1); absent for fewer than two positions.
  std::optional<double> kl_mean_ci95;
  double kl_median = 0.0;  // quantiles by linear interpolation between order statistics
  double kl_p99 = 0.0;
  double kl_max = 0.0;
  double top1_agreement = 0.0;  // fraction in [0, 1]
  std::optional<double> top1_agreement_ci95;  // 1.96 · √(p (1 − p) / n), absent for n < 2
  double base_mean_nll = 0.0;
  double cand_mean_nll = 0.0;
  double base_perplexity = 0.0;  // exp(mean NLL)
  double cand_perplexity = 0.0;
  double perplexity_ratio = 0.0;  // candidate / base

  // Throws fp4::Error for an empty list (nothing was scored).
  static KldSummary from_scores(std::span<const PositionScore> scores);
};

// Quantile q ∈ [0, 1] of `sorted` (ascending, non-empty) by linear interpolation at rank q · (n − 1).
double quantile_sorted(std::span<const double> sorted, double q);

struct KldOptions {
  int64_t ctx = 512;  // tokens per window (≥ 2)
  bool score_all_positions = false;
  model::ForwardOptions forward;  // all_logits is forced on
  // Called after each window with its tokens [ctx] and both models' logits [ctx, vocab].
  std::function<void(int64_t window, std::span<const int32_t> tokens, const float* base_logits,
                     const float* cand_logits)>
      on_window;
  // Called after each window with the count done and the total (for a progress line).
  std::function<void(int64_t done, int64_t total)> on_progress;
};

struct KldResult {
  int64_t tokens = 0;         // tokens given
  int64_t windows = 0;        // windows evaluated
  int64_t ctx = 0;
  int64_t first_scored = 0;   // first scored row of each window
  std::vector<PositionScore> scores;  // [windows · (ctx − 1 − first_scored)] in window order
  KldSummary summary;
};

// First scored row of a window of ctx tokens under `options`.
int64_t first_scored_row(const KldOptions& options);

// Runs both models over the windows of `tokens` and scores them. Throws fp4::Error when the models'
// vocabulary sizes differ, ctx < 2, or the tokens do not fill one window.
KldResult evaluate_kld(model::Model& base, model::Model& candidate, std::span<const int32_t> tokens,
                       const KldOptions& options);

// The human-readable report (several lines, ending in a newline) and the JSON document.
std::string format_kld_report(const KldResult& result, const std::string& base_name, const std::string& cand_name);
std::string kld_json(const KldResult& result, const std::string& base_name, const std::string& cand_name);

}  // namespace fp4::eval
