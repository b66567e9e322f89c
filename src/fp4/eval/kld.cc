#include "fp4/eval/kld.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "fp4/base/error.h"
#include "fp4/runtime/kv_cache.h"

namespace fp4::eval {

void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  FP4_CHECK(!logits.empty(), "log_softmax: empty logits row");
  double max = -std::numeric_limits<double>::infinity();
  for (size_t v = 0; v < logits.size(); ++v) {
    FP4_CHECK(std::isfinite(logits[v]), "logits: entry {} is {} (expected a finite value)", v, logits[v]);
    max = std::max(max, static_cast<double>(logits[v]));
  }
  // Subtracting the maximum keeps every exp() in (0, 1], so the sum cannot overflow and is ≥ 1.
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max);
  const double log_z = max + std::log(sum);
  out.resize(logits.size());
  for (size_t v = 0; v < logits.size(); ++v) out[v] = static_cast<double>(logits[v]) - log_z;
}

int64_t argmax(std::span<const float> logits) {
  FP4_CHECK(!logits.empty(), "argmax: empty logits row");
  // max_element returns the first of equal maxima.
  return std::max_element(logits.begin(), logits.end()) - logits.begin();
}

PositionScore score_position(std::span<const float> base_logits, std::span<const float> cand_logits,
                             int32_t next_token) {
  FP4_CHECK(base_logits.size() == cand_logits.size(), "kld: logits rows of {} and {} entries (expected equal)",
            base_logits.size(), cand_logits.size());
  FP4_CHECK(next_token >= 0 && static_cast<size_t>(next_token) < base_logits.size(),
            "kld: next token {} is outside the vocabulary of {}", next_token, base_logits.size());
  // Per-thread scratch: one row of each is vocab doubles (1 MB for a 129k vocabulary).
  thread_local std::vector<double> lp, lq;
  log_softmax(base_logits, lp);
  log_softmax(cand_logits, lq);
  double kl = 0.0;
  for (size_t v = 0; v < lp.size(); ++v) {
    // Identical rows give lp[v] − lq[v] == 0 exactly in every term, so identical models score 0 exactly.
    kl += std::exp(lp[v]) * (lp[v] - lq[v]);
  }
  // KL ≥ 0 mathematically (Gibbs); a negative sum can only be f64 rounding of terms of both signs, whose
  // size is bounded by about vocab · 2^-53 · max|lp − lq|, far below any difference worth reporting.
  PositionScore s;
  s.kl = std::max(kl, 0.0);
  s.top1_agree = argmax(base_logits) == argmax(cand_logits);
  s.base_nll = -lp[static_cast<size_t>(next_token)];
  s.cand_nll = -lq[static_cast<size_t>(next_token)];
  return s;
}

double quantile_sorted(std::span<const double> sorted, double q) {
  FP4_CHECK(!sorted.empty(), "quantile of an empty list");
  const double rank = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
}

KldSummary KldSummary::from_scores(std::span<const PositionScore> scores) {
  FP4_CHECK(!scores.empty(), "kld: no position was scored");
  KldSummary s;
  const double n = static_cast<double>(scores.size());
  s.positions = static_cast<int64_t>(scores.size());
  std::vector<double> kl;
  kl.reserve(scores.size());
  double kl_sum = 0.0, base_nll = 0.0, cand_nll = 0.0;
  int64_t agree = 0;
  for (const PositionScore& p : scores) {
    kl.push_back(p.kl);
    kl_sum += p.kl;
    base_nll += p.base_nll;
    cand_nll += p.cand_nll;
    agree += p.top1_agree ? 1 : 0;
  }
  s.kl_mean = kl_sum / n;
  if (scores.size() >= 2) {
    double ss = 0.0;  // two-pass variance: no cancellation from subtracting large squares
    for (double x : kl) ss += (x - s.kl_mean) * (x - s.kl_mean);
    s.kl_mean_ci95 = 1.96 * std::sqrt(ss / (n - 1.0)) / std::sqrt(n);
  }
  std::sort(kl.begin(), kl.end());
  s.kl_median = quantile_sorted(kl, 0.5);
  s.kl_p99 = quantile_sorted(kl, 0.99);
  s.kl_max = kl.back();
  s.top1_agreement = static_cast<double>(agree) / n;
  if (scores.size() >= 2) {
    s.top1_agreement_ci95 = 1.96 * std::sqrt(s.top1_agreement * (1.0 - s.top1_agreement) / n);
  }
  s.base_mean_nll = base_nll / n;
  s.cand_mean_nll = cand_nll / n;
  s.base_perplexity = std::exp(s.base_mean_nll);
  s.cand_perplexity = std::exp(s.cand_mean_nll);
  s.perplexity_ratio = s.cand_perplexity / s.base_perplexity;
  return s;
}

int64_t first_scored_row(const KldOptions& options) { return options.score_all_positions ? 0 : options.ctx / 2; }

namespace {

// Prefills `window` [ctx] as a fresh sequence and writes all rows of logits [ctx, vocab].
void prefill_window(model::Model& m, runtime::KvCache& cache, std::span<const int32_t> window,
                    const model::ForwardOptions& forward, float* logits) {
  runtime::SequenceKv seq(cache);
  seq.reserve(static_cast<int64_t>(window.size()));
  m.forward(window, 0, seq.view(), forward, logits);
}

}  // namespace

KldResult evaluate_kld(model::Model& base, model::Model& candidate, std::span<const int32_t> tokens,
                       const KldOptions& options) {
  FP4_CHECK(base.vocab_size() == candidate.vocab_size(),
            "kld: the base model has a vocabulary of {} and the candidate {} (expected the same vocabulary)",
            base.vocab_size(), candidate.vocab_size());
  FP4_CHECK(options.ctx >= 2, "kld: --ctx {} is too small (expected at least 2 tokens per window)", options.ctx);
  const int64_t n_tokens = static_cast<int64_t>(tokens.size());
  FP4_CHECK(n_tokens >= options.ctx, "kld: the input has {} tokens, fewer than one window of --ctx {}", n_tokens,
            options.ctx);
  const int64_t vocab = base.vocab_size();
  const int64_t ctx = options.ctx;

  KldResult r;
  r.tokens = n_tokens;
  r.ctx = ctx;
  r.windows = n_tokens / ctx;
  r.first_scored = first_scored_row(options);
  r.scores.reserve(static_cast<size_t>(r.windows * (ctx - 1 - r.first_scored)));

  model::ForwardOptions forward = options.forward;
  forward.all_logits = true;
  runtime::KvCache base_cache = runtime::KvCache::for_model(base, ctx);
  runtime::KvCache cand_cache = runtime::KvCache::for_model(candidate, ctx);
  std::vector<float> base_logits(static_cast<size_t>(ctx * vocab));  // [ctx, vocab]
  std::vector<float> cand_logits(static_cast<size_t>(ctx * vocab));  // [ctx, vocab]

  for (int64_t w = 0; w < r.windows; ++w) {
    const std::span<const int32_t> window = tokens.subspan(static_cast<size_t>(w * ctx), static_cast<size_t>(ctx));
    prefill_window(base, base_cache, window, forward, base_logits.data());
    prefill_window(candidate, cand_cache, window, forward, cand_logits.data());
    for (int64_t t = r.first_scored; t < ctx - 1; ++t) {
      const size_t row = static_cast<size_t>(t * vocab);
      try {
        r.scores.push_back(score_position({base_logits.data() + row, static_cast<size_t>(vocab)},
                                          {cand_logits.data() + row, static_cast<size_t>(vocab)},
                                          window[static_cast<size_t>(t + 1)]));
      } catch (const Error& e) {
        fail("kld: window {} position {}: {}", w, t, e.what());
      }
    }
    if (options.on_window) options.on_window(w, window, base_logits.data(), cand_logits.data());
    if (options.on_progress) options.on_progress(w + 1, r.windows);
  }
  r.summary = KldSummary::from_scores(r.scores);
  return r;
}

namespace {

std::string pm(const std::optional<double>& ci, double scale, const char* fmt_spec) {
  if (!ci) return " ± n/a";
  return " ± " + fmt::format(fmt::runtime(fmt_spec), *ci * scale);
}

}  // namespace

std::string format_kld_report(const KldResult& r, const std::string& base_name, const std::string& cand_name) {
  const KldSummary& s = r.summary;
  std::string out;
  out += fmt::format("base:        {}\ncandidate:   {}\n", base_name, cand_name);
  out += fmt::format("windows:     {} of {} tokens ({} tokens given, {} unused), rows {}..{} scored\n", r.windows,
                     r.ctx, r.tokens, r.tokens - r.windows * r.ctx, r.first_scored, r.ctx - 2);
  out += fmt::format("positions:   {}\n", s.positions);
  out += fmt::format("mean KL:     {:.6g}{} nats (95% CI)\n", s.kl_mean, pm(s.kl_mean_ci95, 1.0, "{:.3g}"));
  out += fmt::format("median KL:   {:.6g}\n", s.kl_median);
  out += fmt::format("p99 KL:      {:.6g}\n", s.kl_p99);
  out += fmt::format("max KL:      {:.6g}\n", s.kl_max);
  out += fmt::format("top-1 agree: {:.3f}{} %\n", 100.0 * s.top1_agreement,
                     pm(s.top1_agreement_ci95, 100.0, "{:.3f}"));
  out += fmt::format("PPL base:    {:.6g}\n", s.base_perplexity);
  out += fmt::format("PPL cand:    {:.6g}\n", s.cand_perplexity);
  out += fmt::format("PPL ratio:   {:.6f} (candidate / base)\n", s.perplexity_ratio);
  return out;
}

std::string kld_json(const KldResult& r, const std::string& base_name, const std::string& cand_name) {
  const KldSummary& s = r.summary;
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json j;
  j["base"] = base_name;
  j["candidate"] = cand_name;
  j["tokens"] = r.tokens;
  j["ctx"] = r.ctx;
  j["windows"] = r.windows;
  j["first_scored_row"] = r.first_scored;
  j["positions"] = s.positions;
  j["kl_mean"] = s.kl_mean;
  j["kl_mean_ci95"] = opt(s.kl_mean_ci95);
  j["kl_median"] = s.kl_median;
  j["kl_p99"] = s.kl_p99;
  j["kl_max"] = s.kl_max;
  j["top1_agreement"] = s.top1_agreement;
  j["top1_agreement_ci95"] = opt(s.top1_agreement_ci95);
  j["base_mean_nll"] = s.base_mean_nll;
  j["candidate_mean_nll"] = s.cand_mean_nll;
  j["base_perplexity"] = s.base_perplexity;
  j["candidate_perplexity"] = s.cand_perplexity;
  j["perplexity_ratio"] = s.perplexity_ratio;
  return j.dump(2);
}

}  // namespace fp4::eval
