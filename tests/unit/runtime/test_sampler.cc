// The sampler: greedy selection, penalties, the truncation filters against a plain full-sort reference,
// the counter-based generator, reproducibility across batch compositions, and empirical frequencies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/runtime/sampler.h"

namespace fp4::runtime::sampling {
namespace {

std::vector<float> random_logits(int64_t vocab, uint64_t seed, float scale = 3.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (float& v : logits) v = normal(rng);
  return logits;
}

// Logits whose softmax at temperature 1 is exactly proportional to probs.
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(p > 0 ? static_cast<float>(std::log(p)) : -INFINITY);
  return logits;
}

SampleRow row_of(const std::vector<float>& logits, const SamplingParams& p, uint64_t seed, uint64_t step,
                 const TokenHistory* history = nullptr) {
  SampleRow r;
  r.logits = logits.data();
  r.params = &p;
  r.history = history;
  r.seed = seed;
  r.step = step;
  return r;
}

TEST(Philox, MatchesRandom123KnownAnswers) {
  // Random123 tests/kat_vectors, the three "philox4x32 10" lines: counter[4] key[2] -> result[4].
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
            (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
            (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Philox, UniformIsInRangeAndCentred) {
  // 100000 draws of U[0,1): mean 0.5, sd of the mean sqrt(1/12 / 1e5) = 9.1e-4; 5 sigma = 4.6e-3.
  const int n = 100000;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = uniform01(42, 0, static_cast<uint64_t>(i));
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / n, 0.5, 4.6e-3);
  EXPECT_NE(uniform01(42, 0, 7), uniform01(42, 1, 7));  // completions of one request draw differently
  EXPECT_NE(uniform01(42, 0, 7), uniform01(43, 0, 7));
}

TEST(TokenSampler, GreedyIsArgmaxWithLowestIdOnTies) {
  Sampler sampler(6);
  SamplingParams p;
  p.temperature = 0.0;
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f, -INFINITY};
  for (uint64_t step = 0; step < 20; ++step) EXPECT_EQ(sampler.sample(row_of(logits, p, step, step)).token, 1);
}

TEST(TokenSampler, TopKOneIsGreedy) {
  const int64_t vocab = 1000;
  Sampler sampler(vocab);
  SamplingParams p;
  p.temperature = 1.5;
  p.top_k = 1;
  for (uint64_t s = 0; s < 50; ++s) {
    const auto logits = random_logits(vocab, s);
    const auto expected = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(sampler.sample(row_of(logits, p, s, 3)).token, expected);
  }
}

TEST(TokenSampler, PenaltiesMatchHandComputedValues) {
  // prompt {0, 1}; output {1, 2, 2}; repetition 2, frequency 0.5, presence 0.25.
  //   id 0: prompt only, 2.0 > 0       -> 2.0 / 2                          = 1.0
  //   id 1: -1.0 <= 0, output once     -> -1.0 * 2 - (1 * 0.5 + 0.25)      = -2.75
  //   id 2: 0.5 > 0, output twice      -> 0.5 / 2 - (2 * 0.5 + 0.25)       = -1.0
  //   id 3: never seen                 -> 3.0
  const std::vector<int32_t> prompt = {0, 1};
  TokenHistory history(prompt);
  for (int32_t t : {1, 2, 2}) history.append(t);
  SamplingParams p;
  p.repetition_penalty = 2.0;
  p.frequency_penalty = 0.5;
  p.presence_penalty = 0.25;
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 3.0f};
  apply_penalties(logits, history, p);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);
  EXPECT_FLOAT_EQ(logits[1], -2.75f);
  EXPECT_FLOAT_EQ(logits[2], -1.0f);
  EXPECT_FLOAT_EQ(logits[3], 3.0f);
  EXPECT_EQ(history.output_tokens(), 3);
}

TEST(TokenSampler, RepetitionPenaltyChangesTheGreedyChoice) {
  // Token 0 leads by 0.5 but was generated before: 3.0 / 1.3 = 2.31 < 2.5, so greedy moves to token 1.
  Sampler sampler(3);
  SamplingParams p;
  p.temperature = 0.0;
  p.repetition_penalty = 1.3;
  TokenHistory history;
  history.append(0);
  const std::vector<float> logits = {3.0f, 2.5f, 1.0f};
  EXPECT_EQ(sampler.sample(row_of(logits, p, 1, 0, &history)).token, 1);
  EXPECT_EQ(sampler.sample(row_of(logits, p, 1, 0)).token, 0);  // no history: no penalty
}

TEST(TokenSampler, TopPMaskOnCraftedDistribution) {
  // probs {0.5, 0.3, 0.15, 0.05}, top_p 0.75: 0.5 < 0.75 <= 0.8, so ids {0, 1} survive, renormalised.
  SamplingParams p;
  p.top_p = 0.75;
  const auto logits = logits_of({0.5, 0.3, 0.15, 0.05});
  const auto ref = reference_distribution(logits, p, nullptr);
  EXPECT_NEAR(ref[0], 0.625, 1e-6);
  EXPECT_NEAR(ref[1], 0.375, 1e-6);
  EXPECT_EQ(ref[2], 0.0);
  EXPECT_EQ(ref[3], 0.0);
  Sampler sampler(4);
  for (uint64_t step = 0; step < 2000; ++step) EXPECT_LT(sampler.sample(row_of(logits, p, 5, step)).token, 2);
}

TEST(TokenSampler, MinPMaskOnCraftedDistribution) {
  // min_p 0.2 of p_max 0.5 = 0.1: ids {0, 1, 2} survive, id 3 (0.05) is cut.
  SamplingParams p;
  p.min_p = 0.2;
  const auto logits = logits_of({0.5, 0.3, 0.15, 0.05});
  const auto ref = reference_distribution(logits, p, nullptr);
  EXPECT_NEAR(ref[0], 0.5 / 0.95, 1e-6);
  EXPECT_NEAR(ref[2], 0.15 / 0.95, 1e-6);
  EXPECT_EQ(ref[3], 0.0);
  Sampler sampler(4);
  for (uint64_t step = 0; step < 2000; ++step) EXPECT_NE(sampler.sample(row_of(logits, p, 6, step)).token, 3);
}

TEST(TokenSampler, TopPWideNucleusMatchesTheFullSort) {
  // A nearly flat distribution over 5000 ids: the 0.9 nucleus holds ~4500 ids, so the sampler's
  // pre-filter (weight >= (1 - top_p) * mass / vocab) lets almost everything through and the sorted
  // cut decides. Logits decrease with the id, so the nucleus is ids [0, keep), keep from the reference.
  const int64_t vocab = 5000;
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) logits[static_cast<size_t>(i)] = -1e-4f * static_cast<float>(i);
  SamplingParams p;
  p.top_p = 0.9;
  const auto ref = reference_distribution(logits, p, nullptr);
  const auto keep = std::count_if(ref.begin(), ref.end(), [](double v) { return v > 0; });
  ASSERT_GT(keep, 4000);
  ASSERT_LT(keep, vocab);
  Sampler sampler(vocab);
  int32_t highest = 0;
  for (uint64_t step = 0; step < 1000; ++step) {
    highest = std::max(highest, sampler.sample(row_of(logits, p, 9, step)).token);
  }
  EXPECT_LT(highest, keep);
  EXPECT_GT(highest, keep - 100);  // the tail of the nucleus is reached (P(miss) ~ (1 - 100/4500)^1000 ~ 2e-10)
}

TEST(TokenSampler, EmpiricalFrequenciesMatchTheReference) {
  // Every filter at once over 12 tokens. N = 200000 draws; each count is Binomial(N, p_i), sd
  // sqrt(N p_i (1 - p_i)) <= 224. The bound is 5 sd (+1 for the discrete count), a false alarm rate
  // below 6e-7 per token; ids the reference gives probability 0 must never appear.
  const std::vector<float> logits = {2.0f, 1.7f, 1.5f, 1.0f, 0.9f, 0.2f, -0.5f, 3.0f, -2.0f, 0.0f, 1.2f, -INFINITY};
  const std::vector<int32_t> prompt = {0, 3};
  TokenHistory history(prompt);
  history.append(7);
  history.append(7);
  SamplingParams p;
  p.temperature = 0.8;
  p.top_k = 8;
  p.top_p = 0.9;
  p.min_p = 0.05;
  p.repetition_penalty = 1.2;
  p.frequency_penalty = 0.3;
  p.presence_penalty = 0.1;
  const auto ref = reference_distribution(logits, p, &history);
  const int n = 200000;
  std::vector<int> counts(logits.size(), 0);
  Sampler sampler(static_cast<int64_t>(logits.size()));
  for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(sampler.sample(row_of(logits, p, 1234, i, &history)).token)];
  int nonzero = 0;
  for (size_t t = 0; t < logits.size(); ++t) {
    const double expected = n * ref[t];
    if (ref[t] == 0.0) {
      EXPECT_EQ(counts[t], 0) << "token " << t;
      continue;
    }
    ++nonzero;
    const double sd = std::sqrt(n * ref[t] * (1.0 - ref[t]));
    EXPECT_NEAR(counts[t], expected, 5.0 * sd + 1.0) << "token " << t;
  }
  EXPECT_GE(nonzero, 3);  // the filters leave a real distribution to test
}

TEST(TokenSampler, FullVocabularyFrequenciesAtTemperature) {
  // No truncation, temperature 2 over 64 tokens; same 5-sd bound with N = 100000.
  const auto logits = random_logits(64, 77, 1.0f);
  SamplingParams p;
  p.temperature = 2.0;
  const auto ref = reference_distribution(logits, p, nullptr);
  const int n = 100000;
  std::vector<int> counts(logits.size(), 0);
  Sampler sampler(64);
  for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(sampler.sample(row_of(logits, p, 99, i)).token)];
  for (size_t t = 0; t < logits.size(); ++t) {
    const double sd = std::sqrt(n * ref[t] * (1.0 - ref[t]));
    EXPECT_NEAR(counts[t], n * ref[t], 5.0 * sd + 1.0) << "token " << t;
  }
}

TEST(TokenSampler, SeededDrawsAreReproducibleAndIndependentOfTheBatch) {
  // 8 requests with different parameters over a 40000-id vocabulary (8 * 40000 > 2^18, so the batch
  // takes the thread-pool path); each alone, in a batch, and in a shuffled batch with extra rows.
  const int64_t vocab = 40000;
  ThreadPool pool(2);
  Sampler sampler(vocab);
  std::vector<std::vector<float>> logits;
  std::vector<SamplingParams> params(8);
  for (int i = 0; i < 8; ++i) {
    logits.push_back(random_logits(vocab, 100 + i));
    params[static_cast<size_t>(i)].temperature = 0.5 + 0.1 * i;
    params[static_cast<size_t>(i)].top_k = i % 2 == 0 ? 50 : 0;
    params[static_cast<size_t>(i)].top_p = i % 3 == 0 ? 0.9 : 1.0;
    params[static_cast<size_t>(i)].min_p = i == 5 ? 0.01 : 0.0;
  }
  for (uint64_t step = 0; step < 5; ++step) {
    std::vector<SampleRow> rows;
    std::vector<int32_t> alone;
    for (size_t i = 0; i < 8; ++i) {
      rows.push_back(row_of(logits[i], params[i], 1000 + i, step));
      alone.push_back(sampler.sample(rows.back()).token);
    }
    const auto batched = sampler.sample_batch(rows, &pool);
    std::vector<SampleRow> mixed = rows;
    const auto extra = random_logits(vocab, 555);
    mixed.push_back(row_of(extra, params[1], 77, step));
    std::vector<size_t> perm(mixed.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937(static_cast<unsigned>(step)));
    std::vector<SampleRow> shuffled;
    for (size_t j : perm) shuffled.push_back(mixed[j]);
    const auto shuffled_out = sampler.sample_batch(shuffled, &pool);
    for (size_t j = 0; j < perm.size(); ++j) {
      if (perm[j] < 8) {
        EXPECT_EQ(shuffled_out[j].token, alone[perm[j]]) << "row " << perm[j] << " step " << step;
      }
    }
    for (size_t i = 0; i < 8; ++i) EXPECT_EQ(batched[i].token, alone[i]) << "row " << i << " step " << step;
  }
}

TEST(TokenSampler, LogprobsAreRawLogSoftmaxWithTopAlternatives) {
  // Temperature and penalties change what is drawn but not the reported logprobs (vLLM's default).
  const auto logits = random_logits(300, 3);
  double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float v : logits) sum += std::exp(v - max);
  const double lse = max + std::log(sum);
  TokenHistory history;
  history.append(5);
  SamplingParams p;
  p.temperature = 0.7;
  p.repetition_penalty = 1.5;
  p.logprobs = true;
  p.top_logprobs = 5;
  Sampler sampler(300);
  const SampleResult r = sampler.sample(row_of(logits, p, 8, 0, &history));
  // float rounding of the final cast: |logprob| < 20, so 2^-23 * 20 ~ 2.4e-6; 1e-5 leaves margin.
  EXPECT_NEAR(r.logprob, logits[static_cast<size_t>(r.token)] - lse, 1e-5);
  std::vector<int32_t> order(300);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  ASSERT_EQ(r.top.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.top[i].token, order[i]);
    EXPECT_NEAR(r.top[i].logprob, logits[static_cast<size_t>(order[i])] - lse, 1e-5);
  }
}

TEST(TokenSampler, RowOfMinusInfinityExceptOneTokenAlwaysPicksIt) {
  std::vector<float> logits(100, -INFINITY);
  logits[42] = -3.0f;
  SamplingParams p;
  p.top_p = 0.5;
  p.min_p = 0.5;
  Sampler sampler(100);
  for (uint64_t step = 0; step < 50; ++step) EXPECT_EQ(sampler.sample(row_of(logits, p, 2, step)).token, 42);
}

TEST(TokenSampler, NanAndInfinityDoNotBreakTheOrdering) {
  // NaN counts as -inf, +inf as the largest float: the +inf token wins every filter combination.
  std::vector<float> logits = random_logits(3000, 4);
  for (size_t i = 0; i < logits.size(); i += 7) logits[i] = NAN;
  logits[1234] = INFINITY;
  Sampler sampler(3000);
  for (int combo = 0; combo < 4; ++combo) {
    SamplingParams p;
    p.top_k = combo & 1 ? 100 : 0;
    p.top_p = combo & 2 ? 0.9 : 1.0;
    p.logprobs = true;
    p.top_logprobs = 2;
    const SampleResult r = sampler.sample(row_of(logits, p, 3, static_cast<uint64_t>(combo)));
    EXPECT_EQ(r.token, 1234);
    EXPECT_EQ(r.top[0].token, 1234);
    EXPECT_FALSE(std::isnan(r.logprob));
  }
}

TEST(TokenSampler, RejectsRowsWithoutLogits) {
  Sampler sampler(4);
  SamplingParams p;
  SampleRow r;
  r.params = &p;
  EXPECT_THROW(sampler.sample(r), Error);
  EXPECT_THROW(Sampler(0), Error);
}

}  // namespace
}  // namespace fp4::runtime::sampling
