// KL-divergence, top-1 agreement and perplexity: the per-position math against hand-computed values, the
// summary statistics, the windowing (with a model whose logits are a known function of its input), and
// the golden fixtures end to end (identical models score exactly 0; quantized ones match a recomputation
// from their logits).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/eval/kld.h"
#include "fp4/io/safetensors.h"
#include "fp4/model/model.h"

namespace fp4::eval {
namespace {

const double kLn2 = std::log(2.0);

// A 3-token vocabulary. P_base = (1/2, 1/4, 1/4) from logits (ln 2, 0, 0); P_cand = (1/4, 1/2, 1/4) from
// (0, ln 2, 0). By hand: KL = 1/2·ln(2) + 1/4·ln(1/2) + 1/4·ln(1) = ln(2)/4; the next token 1 has
// NLL_base = ln 4 and NLL_cand = ln 2.
TEST(KldMath, ThreeTokenVocabularyByHand) {
  const float l2 = static_cast<float>(kLn2);
  const std::vector<float> base = {l2, 0.0f, 0.0f};
  const std::vector<float> cand = {0.0f, l2, 0.0f};
  const PositionScore s = score_position(base, cand, 1);
  // ln 2 rounded to f32 is off by ≤ 2^-25 ≈ 3e-8 (half an ulp at 0.69); KL and the NLLs change by at most
  // 1 per unit of any logit (|∂/∂x| ≤ |p − q| + q ≤ 2 summed over a row), so two perturbed entries move
  // them by ≤ 2 · 2 · 3e-8 ≈ 1.2e-7.
  const double tol = 1.2e-7;
  EXPECT_NEAR(s.kl, kLn2 / 4.0, tol);
  EXPECT_NEAR(s.base_nll, 2.0 * kLn2, tol);
  EXPECT_NEAR(s.cand_nll, kLn2, tol);
  EXPECT_FALSE(s.top1_agree);  // argmax 0 vs 1

  // Swapped: KL(Q || P) = 1/4·ln(1/2) + 1/2·ln 2 + 1/4·ln 1 = ln(2)/4 too (this pair is a permutation of
  // itself); with next token 0, NLL_base = −ln q(0) = ln 4 and NLL_cand = −ln p(0) = ln 2.
  const PositionScore r = score_position(cand, base, 0);
  EXPECT_NEAR(r.kl, kLn2 / 4.0, tol);
  EXPECT_NEAR(r.base_nll, 2.0 * kLn2, tol);
  EXPECT_NEAR(r.cand_nll, kLn2, tol);
}

TEST(KldMath, IdenticalRowsScoreExactlyZero) {
  const std::vector<float> row = {3.5f, -1.25f, 0.0f, 7.0f, 7.0f, -30.0f};
  const PositionScore s = score_position(row, row, 2);
  EXPECT_EQ(s.kl, 0.0);
  EXPECT_TRUE(s.top1_agree);
  EXPECT_EQ(s.base_nll, s.cand_nll);
}

TEST(KldMath, ShiftedLogitsAreTheSameDistribution) {
  // Adding a constant to every logit leaves the softmax unchanged; values are exact in f32, so the only
  // error is the f64 log-sum-exp: a few ulps of numbers ≤ 10, i.e. ≤ ~1e-14.
  const std::vector<float> a = {1.0f, 2.0f, 3.0f, 4.0f};
  const std::vector<float> b = {101.0f, 102.0f, 103.0f, 104.0f};
  const PositionScore s = score_position(a, b, 3);
  EXPECT_NEAR(s.kl, 0.0, 1e-14);
  EXPECT_TRUE(s.top1_agree);
  EXPECT_NEAR(s.base_nll, s.cand_nll, 1e-14);
}

TEST(KldMath, ArgmaxTakesTheFirstOfEqualMaxima) {
  EXPECT_EQ(argmax(std::vector<float>{1.0f, 3.0f, 3.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-5.0f}), 0);
  // Tied maxima at different indices in the two rows do not agree.
  EXPECT_FALSE(score_position(std::vector<float>{2, 2, 0}, std::vector<float>{0, 2, 2}, 0).top1_agree);
}

TEST(KldMath, UniformLogitsGivePerplexityOfTheVocabulary) {
  const std::vector<float> uniform(8, 0.25f);
  const std::vector<float> peaked = {0, 0, 0, 0, 0, 0, 0, 10};
  std::vector<PositionScore> scores;
  for (int32_t next = 0; next < 4; ++next) scores.push_back(score_position(uniform, peaked, next));
  const KldSummary s = KldSummary::from_scores(scores);
  // NLL = ln 8 at every position: exp(ln 8) = 8 up to f64 rounding of log and exp (a few ulps).
  EXPECT_NEAR(s.base_perplexity, 8.0, 1e-12);
  // Candidate: p(token < 4) = 1 / (7 + e^10); perplexity = 7 + e^10.
  EXPECT_NEAR(s.cand_perplexity / (7.0 + std::exp(10.0)), 1.0, 1e-12);
  EXPECT_NEAR(s.perplexity_ratio, (7.0 + std::exp(10.0)) / 8.0, 1e-8);
  EXPECT_EQ(s.top1_agreement, 0.0);  // uniform's argmax is 0, peaked's is 7
}

TEST(KldMath, NonFiniteLogitsAndBadTokensAreErrors) {
  const std::vector<float> ok = {0.0f, 1.0f};
  const std::vector<float> bad = {0.0f, std::nanf("")};
  EXPECT_THROW(score_position(ok, bad, 0), Error);
  EXPECT_THROW(score_position(ok, ok, 2), Error);
  EXPECT_THROW(score_position(ok, ok, -1), Error);
  EXPECT_THROW(score_position(ok, std::vector<float>{0.0f, 1.0f, 2.0f}, 0), Error);
}

TEST(KldSummary, StatisticsOfCraftedScores) {
  std::vector<PositionScore> scores;
  for (int i = 0; i < 5; ++i) {
    PositionScore p;
    p.kl = static_cast<double>(i);  // 0, 1, 2, 3, 4
    p.top1_agree = i < 3;
    p.base_nll = i % 2 == 0 ? kLn2 : 3.0 * kLn2;  // ln 2, ln 8, ln 2, ln 8, ln 2
    p.cand_nll = 2.0 * kLn2;                     // ln 4 everywhere
    scores.push_back(p);
  }
  const KldSummary s = KldSummary::from_scores(scores);
  EXPECT_EQ(s.positions, 5);
  EXPECT_DOUBLE_EQ(s.kl_mean, 2.0);
  ASSERT_TRUE(s.kl_mean_ci95.has_value());
  EXPECT_DOUBLE_EQ(*s.kl_mean_ci95, 1.96 * std::sqrt(2.5) / std::sqrt(5.0));  // sample variance 10 / 4
  EXPECT_DOUBLE_EQ(s.kl_median, 2.0);
  EXPECT_DOUBLE_EQ(s.kl_p99, 3.96);  // rank 0.99 · 4 = 3.96 between 3 and 4
  EXPECT_DOUBLE_EQ(s.kl_max, 4.0);
  EXPECT_DOUBLE_EQ(s.top1_agreement, 0.6);
  ASSERT_TRUE(s.top1_agreement_ci95.has_value());
  EXPECT_DOUBLE_EQ(*s.top1_agreement_ci95, 1.96 * std::sqrt(0.6 * 0.4 / 5.0));
  // Mean base NLL = (3 ln 2 + 2 · 3 ln 2) / 5 = 9/5 ln 2, so perplexity 2^1.8; candidate 4.
  EXPECT_NEAR(s.base_perplexity, std::pow(2.0, 1.8), 1e-12);
  EXPECT_NEAR(s.cand_perplexity, 4.0, 1e-12);
  EXPECT_NEAR(s.perplexity_ratio, 4.0 / std::pow(2.0, 1.8), 1e-12);

  EXPECT_FALSE(KldSummary::from_scores(std::span(scores.data(), 1)).kl_mean_ci95.has_value());
  EXPECT_THROW(KldSummary::from_scores({}), Error);
}

// A model whose logits are a known function of (token, position): row t is 0 everywhere except
// `bump` at index (token + position) % vocab. Two instances with different bumps differ in a way the
// test can recompute.
class ShiftModel : public model::Model {
 public:
  ShiftModel(int64_t vocab, float bump, ThreadPool& pool) : Model(config_for(vocab), pool), bump_(bump) {}
  uint64_t weight_bytes() const override { return 0; }
  std::string describe() const override { return "shift model"; }
  void forward_batch(std::span<const model::BatchSequence> batch, const model::ForwardOptions&,
                     float* logits) override {
    ASSERT_EQ(batch.size(), 1u);  // kld scores one window at a time
    const model::BatchSequence& s = batch[0];
    EXPECT_EQ(s.logits, model::BatchSequence::Logits::kAll);
    const std::span<const int32_t> tokens = s.tokens;
    const int64_t pos0 = s.pos0;
    EXPECT_EQ(pos0, 0);  // every window is a fresh sequence
    EXPECT_GE(s.kv.capacity(), static_cast<int64_t>(tokens.size()));
    windows_seen.emplace_back(tokens.begin(), tokens.end());
    const int64_t vocab = vocab_size();
    for (size_t t = 0; t < tokens.size(); ++t) {
      float* row = logits + t * static_cast<size_t>(vocab);
      std::fill(row, row + vocab, 0.0f);
      row[(static_cast<int64_t>(tokens[t]) + pos0 + static_cast<int64_t>(t)) % vocab] = bump_;
    }
  }
  std::vector<std::vector<int32_t>> windows_seen;

 private:
  static io::ModelConfig config_for(int64_t vocab) {
    io::ModelConfig c;
    c.vocab_size = vocab;
    c.num_hidden_layers = 1;
    c.num_key_value_heads = 1;
    c.head_dim = 1;
    return c;
  }
  float bump_;
};

TEST(EvaluateKld, WindowsAndScoredRowsFollowTheOptions) {
  ThreadPool pool(1);
  ShiftModel base(5, 2.0f, pool), cand(5, 1.0f, pool);
  std::vector<int32_t> tokens(23);
  std::iota(tokens.begin(), tokens.end(), 0);
  for (int32_t& t : tokens) t %= 5;
  KldOptions opt;
  opt.ctx = 8;
  const KldResult r = evaluate_kld(base, cand, tokens, opt);
  EXPECT_EQ(r.windows, 2);  // 23 / 8; the last 7 tokens are unused
  EXPECT_EQ(r.first_scored, 4);
  EXPECT_EQ(r.summary.positions, 2 * (8 - 1 - 4));  // rows 4, 5, 6 of each window
  ASSERT_EQ(base.windows_seen.size(), 2u);
  EXPECT_EQ(base.windows_seen[1].front(), tokens[8]);

  // Every row is a one-hot bump at the same index in both models, so top-1 always agrees and the KL is
  // that of softmax(bump 2) vs softmax(bump 1) over 5 entries, recomputed here in closed form.
  auto dist = [](double bump) {
    const double z = std::exp(bump) + 4.0;
    return std::pair<double, double>{std::exp(bump) / z, 1.0 / z};
  };
  const auto [p_hi, p_lo] = dist(2.0);
  const auto [q_hi, q_lo] = dist(1.0);
  const double kl = p_hi * std::log(p_hi / q_hi) + 4.0 * p_lo * std::log(p_lo / q_lo);
  EXPECT_NEAR(r.summary.kl_mean, kl, 1e-14);  // f64 log-sum-exp of 5 terms: a few ulps
  EXPECT_EQ(r.summary.top1_agreement, 1.0);

  opt.score_all_positions = true;
  EXPECT_EQ(evaluate_kld(base, cand, tokens, opt).summary.positions, 2 * 7);
}

TEST(EvaluateKld, InputErrorsAreClear) {
  ThreadPool pool(1);
  ShiftModel base(5, 1.0f, pool), other_vocab(6, 1.0f, pool);
  const std::vector<int32_t> tokens(16, 1);
  KldOptions opt;
  opt.ctx = 8;
  try {
    evaluate_kld(base, other_vocab, tokens, opt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocabulary of 5 and the candidate 6"), std::string::npos) << e.what();
  }
  opt.ctx = 32;
  EXPECT_THROW(evaluate_kld(base, base, tokens, opt), Error);  // fewer tokens than one window
  opt.ctx = 1;
  EXPECT_THROW(evaluate_kld(base, base, tokens, opt), Error);
}

// ---- golden fixtures ----

std::string fixture(const std::string& name) { return std::string(FP4_SOURCE_DIR) + "/tests/golden/" + name; }

// All of a fixture's recorded token ids (the three prompts and the greedy sequence): 67 tokens.
std::vector<int32_t> golden_tokens(const std::string& name) {
  auto file = io::SafetensorsFile::open(fixture(name) + "/expected.safetensors");
  std::vector<int32_t> out;
  for (const char* t : {"prompt0.ids", "prompt1.ids", "prompt2.ids", "greedy.ids"}) {
    const io::TensorView v = file->view(t);
    const int32_t* p = v.as<int32_t>(DType::kI32);
    out.insert(out.end(), p, p + v.numel());
  }
  return out;
}

// Independent recomputation of one position: probabilities normalised directly (no log-softmax) in
// long double, KL = Σ p · (ln p − ln q).
double kl_reference(const float* base, const float* cand, int64_t vocab) {
  long double zp = 0, zq = 0, mp = base[0], mq = cand[0];
  for (int64_t v = 0; v < vocab; ++v) mp = std::max<long double>(mp, base[v]), mq = std::max<long double>(mq, cand[v]);
  for (int64_t v = 0; v < vocab; ++v) zp += std::exp(base[v] - mp), zq += std::exp(cand[v] - mq);
  long double kl = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    const long double p = std::exp(base[v] - mp) / zp, q = std::exp(cand[v] - mq) / zq;
    kl += p * std::log(p / q);
  }
  return static_cast<double>(kl);
}

TEST(KldGolden, IdenticalModelsScoreExactlyZero) {
  ThreadPool pool(2);
  auto a = model::Model::load(fixture("qwen2_bf16"), pool);
  auto b = model::Model::load(fixture("qwen2_bf16"), pool);
  KldOptions opt;
  opt.ctx = 16;
  const KldResult r = evaluate_kld(*a, *b, golden_tokens("qwen2_bf16"), opt);
  EXPECT_EQ(r.windows, 4);
  for (const PositionScore& p : r.scores) EXPECT_EQ(p.kl, 0.0);
  EXPECT_EQ(r.summary.kl_mean, 0.0);
  EXPECT_EQ(r.summary.kl_max, 0.0);
  EXPECT_EQ(r.summary.top1_agreement, 1.0);
  EXPECT_EQ(r.summary.perplexity_ratio, 1.0);
}

class KldGoldenQuantized : public ::testing::TestWithParam<std::string> {};

TEST_P(KldGoldenQuantized, NumbersEqualARecomputationFromTheLogits) {
  const std::string family = GetParam();
  ThreadPool pool(2);
  auto base = model::Model::load(fixture(family + "_bf16"), pool);
  for (const char* enc : {"_fp8", "_nvfp4"}) {
    SCOPED_TRACE(family + enc);
    auto cand = model::Model::load(fixture(family + enc), pool);
    const int64_t vocab = base->vocab_size();
    KldOptions opt;
    opt.ctx = 16;
    std::vector<double> kl_ref, base_nll_ref;
    int64_t agree = 0;
    opt.on_window = [&](int64_t, std::span<const int32_t> w, const float* b, const float* c) {
      for (int64_t t = first_scored_row(opt); t < opt.ctx - 1; ++t) {
        const float* br = b + t * vocab;
        const float* cr = c + t * vocab;
        kl_ref.push_back(kl_reference(br, cr, vocab));
        agree += std::max_element(br, br + vocab) - br == std::max_element(cr, cr + vocab) - cr;
        long double z = 0;
        for (int64_t v = 0; v < vocab; ++v) z += std::exp(static_cast<long double>(br[v]));
        base_nll_ref.push_back(static_cast<double>(std::log(z) - br[w[static_cast<size_t>(t + 1)]]));
      }
    };
    const KldResult r = evaluate_kld(*base, *cand, golden_tokens(family + "_bf16"), opt);
    ASSERT_EQ(r.scores.size(), kl_ref.size());
    double mean = 0;
    for (size_t i = 0; i < kl_ref.size(); ++i) {
      ASSERT_TRUE(std::isfinite(r.scores[i].kl));
      EXPECT_GE(r.scores[i].kl, 0.0);
      // f64 vs long double sums of 256 terms of size ≤ ~10: |error| ≤ 256 · 10 · 2^-53 ≈ 3e-13.
      EXPECT_NEAR(r.scores[i].kl, kl_ref[i], 1e-12);
      EXPECT_NEAR(r.scores[i].base_nll, base_nll_ref[i], 1e-12);
      mean += kl_ref[i];
    }
    mean /= static_cast<double>(kl_ref.size());
    EXPECT_NEAR(r.summary.kl_mean, mean, 1e-12);
    EXPECT_EQ(r.summary.top1_agreement, static_cast<double>(agree) / static_cast<double>(kl_ref.size()));
    EXPECT_TRUE(std::isfinite(r.summary.cand_perplexity));
    EXPECT_GT(r.summary.kl_mean, 0.0);  // quantized weights do change the logits
  }
}

INSTANTIATE_TEST_SUITE_P(Families, KldGoldenQuantized,
                         ::testing::Values("qwen2", "llama", "qwen3", "deepseek_v3", "deepseek_v2_lite"));

}  // namespace
}  // namespace fp4::eval
