#include "fp4/runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"

namespace fp4::runtime::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

// Strict total order "more likely first": larger logit, then lower id. Makes ties deterministic.
struct MoreLikely {
  const float* w;
  bool operator()(int32_t a, int32_t b) const { return w[a] > w[b] || (w[a] == w[b] && a < b); }
};

int32_t argmax(const float* w, int64_t vocab) {
  return static_cast<int32_t>(std::max_element(w, w + vocab) - w);  // first maximum = lowest id
}

// log(sum(exp(x))) over the row, in double.
double log_sum_exp(const float* x, int64_t vocab) {
  const float top = *std::max_element(x, x + vocab);
  if (!(top > kNegInf)) return top;
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(x[i]) - top);
  return top + std::log(sum);
}

// The n largest logits, most likely first, by a bounded heap: O(vocab log n).
std::vector<TokenLogprob> top_logprobs(const float* x, int64_t vocab, int n, double lse) {
  std::vector<int32_t> heap;  // a min-heap under MoreLikely: heap.front() is the least likely kept
  heap.reserve(static_cast<size_t>(n) + 1);
  const MoreLikely more{x};
  for (int64_t i = 0; i < vocab; ++i) {
    const auto id = static_cast<int32_t>(i);
    if (static_cast<int>(heap.size()) < n) {
      heap.push_back(id);
      std::push_heap(heap.begin(), heap.end(), more);
    } else if (more(id, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), more);
      heap.back() = id;
      std::push_heap(heap.begin(), heap.end(), more);
    }
  }
  std::sort(heap.begin(), heap.end(), more);
  std::vector<TokenLogprob> out;
  out.reserve(heap.size());
  for (int32_t id : heap) out.push_back({id, static_cast<float>(x[id] - lse)});
  return out;
}

}  // namespace

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;    // round multipliers
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // key schedule increments
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k[0] += kWeyl0;
      k[1] += kWeyl1;
    }
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * c[2];
    c = {static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k[0], static_cast<uint32_t>(p1),
         static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k[1], static_cast<uint32_t>(p0)};
  }
  return c;
}

double uniform01(uint64_t seed, uint32_t index, uint64_t step) {
  const auto r = philox4x32({static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), index, 0u},
                            {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
  const uint64_t bits = ((static_cast<uint64_t>(r[0]) << 32) | r[1]) >> 11;  // 53 bits
  return static_cast<double>(bits) * 0x1.0p-53;
}

TokenHistory::TokenHistory(std::span<const int32_t> prompt) {
  for (int32_t id : prompt) seen_[id].in_prompt = true;
}

void TokenHistory::append(int32_t token) {
  ++seen_[token].output_count;
  ++output_tokens_;
}

void apply_penalties(std::span<float> logits, const TokenHistory& history, const SamplingParams& p) {
  const auto rep = static_cast<float>(p.repetition_penalty);
  const auto freq = static_cast<float>(p.frequency_penalty);
  const auto pres = static_cast<float>(p.presence_penalty);
  const auto vocab = static_cast<int64_t>(logits.size());
  for (const auto& [id, seen] : history.occurrences()) {
    if (id < 0 || id >= vocab) continue;  // ids outside the head (never sampled) have no logit
    float& v = logits[static_cast<size_t>(id)];
    if (rep != 1.0f) v = v > 0.0f ? v / rep : v * rep;
    if (seen.output_count > 0) v -= static_cast<float>(seen.output_count) * freq + pres;
  }
}

Sampler::Sampler(int64_t vocab_size) : vocab_(vocab_size), scratch_(1) {
  FP4_CHECK(vocab_size > 0 && vocab_size <= std::numeric_limits<int32_t>::max(),
            "sampler: vocabulary size {} must be in [1, 2^31)", vocab_size);
}

SampleResult Sampler::sample(const SampleRow& row) {
  FP4_CHECK(row.logits != nullptr && row.params != nullptr, "sampler: a row has no logits or no parameters");
  return sample_with(row, scratch_[0]);
}

std::vector<SampleResult> Sampler::sample_batch(std::span<const SampleRow> rows, ThreadPool* pool) {
  for (size_t i = 0; i < rows.size(); ++i) {
    FP4_CHECK(rows[i].logits != nullptr && rows[i].params != nullptr,
              "sampler: row {} has no logits or no parameters", i);
  }
  std::vector<SampleResult> out(rows.size());
  const auto m = static_cast<int64_t>(rows.size());
  if (pool != nullptr && pool->size() > 1 && m >= 2 && m * vocab_ >= kParallelElements) {
    if (scratch_.size() < static_cast<size_t>(pool->size())) scratch_.resize(static_cast<size_t>(pool->size()));
    pool->parallel_for(m, [&](int64_t task, int thread) {
      out[static_cast<size_t>(task)] = sample_with(rows[static_cast<size_t>(task)], scratch_[static_cast<size_t>(thread)]);
    });
  } else {
    for (size_t i = 0; i < rows.size(); ++i) out[i] = sample_with(rows[i], scratch_[0]);
  }
  return out;
}

SampleResult Sampler::sample_with(const SampleRow& row, Scratch& scratch) const {
  const SamplingParams& p = *row.params;
  const float* x = row.logits;  // [vocab] raw model logits, never modified
  const int64_t vocab = vocab_;
  SampleResult result;

  // A broken row (NaN or +inf from an overflow) must not break the orderings below: NaN becomes -inf
  // (never chosen unless nothing else is left) and +inf the largest float (chosen first).
  bool broken = false;
  for (int64_t i = 0; i < vocab; ++i) broken |= !(x[i] < kPosInf);  // no early exit: vectorizes
  if (broken) {
    scratch.raw.resize(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i) {
      const float v = x[i];
      scratch.raw[static_cast<size_t>(i)] = std::isnan(v) ? kNegInf : std::min(v, std::numeric_limits<float>::max());
    }
    x = scratch.raw.data();
  }

  // Logprobs come from the raw logits, before any transformation.
  double lse = 0.0;
  if (p.logprobs) {
    lse = log_sum_exp(x, vocab);
    if (p.top_logprobs > 0) result.top = top_logprobs(x, vocab, std::min<int64_t>(p.top_logprobs, vocab), lse);
  }

  const float* w = x;  // [vocab] penalised logits
  if (row.history != nullptr && p.has_penalties()) {
    scratch.logits.assign(x, x + vocab);
    apply_penalties(scratch.logits, *row.history, p);
    w = scratch.logits.data();
  }

  const int32_t best = argmax(w, vocab);
  const float w_max = w[best];
  if (p.greedy() || !(w_max > kNegInf)) {  // a row of all -inf has nothing to draw from
    result.token = best;
  } else {
    result.token = draw(w, w_max, best, row, scratch);
  }

  if (p.logprobs) result.logprob = static_cast<float>(x[result.token] - lse);
  return result;
}

// Draws from the penalised logits w [vocab] after temperature, top_k, top_p and min_p. O(vocab) passes;
// only the candidates that can be in the top_p nucleus are sorted.
int32_t Sampler::draw(const float* w, float w_max, int32_t best, const SampleRow& row, Scratch& scratch) const {
  const SamplingParams& p = *row.params;
  const int64_t vocab = vocab_;
  const auto inv_t = static_cast<float>(1.0 / p.temperature);
  // weight[id] = exp((w[id] - w_max) / T) in (0, 1]; the most likely token has weight 1.
  std::vector<float>& weight = scratch.weights;
  weight.resize(static_cast<size_t>(vocab));
  auto compute_weight = [&](int32_t id) { return weight[static_cast<size_t>(id)] = std::exp((w[id] - w_max) * inv_t); };
  const MoreLikely more{w};

  // Candidates: every id while `all`, else scratch.order[0, count).
  std::vector<int32_t>& order = scratch.order;
  bool all = true;
  int64_t count = vocab;

  const int64_t k = p.top_k_active() ? std::min(p.top_k, vocab) : vocab;
  if (k < vocab) {
    // top_k by value: the k-th largest logit from a partial selection over plain floats, then one scan
    // that keeps everything above it and the lowest ids among the ties at it. O(vocab).
    std::vector<float>& values = scratch.values;
    values.assign(w, w + vocab);
    std::nth_element(values.begin(), values.begin() + (k - 1), values.end(), std::greater<float>());
    const float kth = values[static_cast<size_t>(k - 1)];
    int64_t ties = k - std::count_if(values.begin(), values.begin() + (k - 1), [&](float v) { return v > kth; });
    order.clear();
    for (int64_t i = 0; i < vocab; ++i) {
      if (w[i] > kth || (w[i] == kth && ties-- > 0)) order.push_back(static_cast<int32_t>(i));
    }
    count = static_cast<int64_t>(order.size());
    for (int32_t id : order) compute_weight(id);
    all = false;
  } else {
    for (int64_t i = 0; i < vocab; ++i) compute_weight(static_cast<int32_t>(i));
  }

  if (p.top_p < 1.0) {
    // top_p: the shortest most-likely-first prefix whose mass reaches top_p of the candidates' mass.
    double mass = 0.0;
    if (all) {
      for (int64_t i = 0; i < vocab; ++i) mass += weight[static_cast<size_t>(i)];
      // Only ids with weight >= tau can be in the nucleus: the ids below tau weigh less than
      // vocab * tau = (1 - top_p) * mass together, so the ids above reach the target by themselves.
      const double tau = (1.0 - p.top_p) * mass / static_cast<double>(vocab);
      order.clear();
      for (int64_t i = 0; i < vocab; ++i) {
        if (weight[static_cast<size_t>(i)] >= tau) order.push_back(static_cast<int32_t>(i));
      }
      count = static_cast<int64_t>(order.size());
    } else {
      for (int64_t i = 0; i < count; ++i) mass += weight[static_cast<size_t>(order[static_cast<size_t>(i)])];
    }
    std::sort(order.begin(), order.begin() + count, more);
    const double target = p.top_p * mass;
    double acc = 0.0;
    for (int64_t i = 0; i < count; ++i) {
      acc += weight[static_cast<size_t>(order[static_cast<size_t>(i)])];
      if (acc >= target) {
        count = i + 1;
        break;
      }
    }
    // Not reaching the target is rounding between the two sums: every candidate stays.
    all = false;
  }

  if (p.min_p > 0.0) {  // min_p: keep p_i >= min_p * p_max, i.e. weight_i >= min_p
    const auto floor = static_cast<float>(p.min_p);
    if (all) {
      order.clear();
      for (int64_t i = 0; i < vocab; ++i) {
        if (weight[static_cast<size_t>(i)] >= floor) order.push_back(static_cast<int32_t>(i));
      }
      count = static_cast<int64_t>(order.size());
      all = false;
    } else {
      const auto end = std::stable_partition(order.begin(), order.begin() + count,
                                             [&](int32_t id) { return weight[static_cast<size_t>(id)] >= floor; });
      count = end - order.begin();
    }
  }

  // Inverse CDF over the surviving weights, in id order when all survive, else in candidate order.
  auto id_at = [&](int64_t i) { return all ? static_cast<int32_t>(i) : order[static_cast<size_t>(i)]; };
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) total += weight[static_cast<size_t>(id_at(i))];
  double remaining = uniform01(row.seed, row.completion, row.step) * total;
  int32_t token = best;  // rounding fallback: the walk below always ends on a kept token
  for (int64_t i = 0; i < count; ++i) {
    const float wi = weight[static_cast<size_t>(id_at(i))];
    if (wi <= 0.0f) continue;
    token = id_at(i);
    remaining -= wi;
    if (remaining < 0.0) break;
  }
  return token;
}

std::vector<double> reference_distribution(std::span<const float> logits, const SamplingParams& p,
                                           const TokenHistory* history) {
  const auto vocab = static_cast<int64_t>(logits.size());
  std::vector<float> w(logits.begin(), logits.end());
  if (history != nullptr) apply_penalties(w, *history, p);
  std::vector<double> prob(static_cast<size_t>(vocab), 0.0);
  std::vector<int32_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), MoreLikely{w.data()});  // full sort: the plain way
  if (p.greedy()) {
    prob[static_cast<size_t>(order[0])] = 1.0;
    return prob;
  }
  size_t keep = p.top_k_active() ? std::min<size_t>(static_cast<size_t>(p.top_k), order.size()) : order.size();
  auto softmax = [&](size_t n) {  // probabilities of order[0, n) at the temperature, others 0
    std::fill(prob.begin(), prob.end(), 0.0);
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double e = std::exp(static_cast<double>(w[static_cast<size_t>(order[i])]) / p.temperature -
                                static_cast<double>(w[static_cast<size_t>(order[0])]) / p.temperature);
      prob[static_cast<size_t>(order[i])] = e;
      sum += e;
    }
    for (size_t i = 0; i < n; ++i) prob[static_cast<size_t>(order[i])] /= sum;
  };
  softmax(keep);
  if (p.top_p < 1.0) {
    double acc = 0.0;
    for (size_t i = 0; i < keep; ++i) {
      acc += prob[static_cast<size_t>(order[i])];
      if (acc >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
    softmax(keep);
  }
  if (p.min_p > 0.0) {
    const double floor = p.min_p * prob[static_cast<size_t>(order[0])];
    std::vector<int32_t> kept;
    for (size_t i = 0; i < keep; ++i) {
      if (prob[static_cast<size_t>(order[i])] >= floor) kept.push_back(order[i]);
    }
    std::copy(kept.begin(), kept.end(), order.begin());
    keep = kept.size();
    softmax(keep);
  }
  return prob;
}

}  // namespace fp4::runtime::sampling
