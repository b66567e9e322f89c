// The token sampler the engine uses: logits rows [M, vocab] in, one token per row out, with its logprob
// and the most likely alternatives when the request asks for them.
//
// Order of the transformations (docs/sampling.md has the sources): penalties (repetition, then
// frequency and presence) -> temperature -> top_k -> top_p -> min_p -> draw. Temperature 0 (or top_k 1)
// takes the argmax of the penalised logits, the lowest id among equal maxima.
//
// Reproducibility: each draw uses a counter-based generator (Philox4x32-10) keyed by the request's seed
// and counted by (completion index, step), so a row's token depends only on its own logits, history,
// parameters, seed and step: never on the other rows of the batch or on the order they are processed.
//
// Logprobs are the log-softmax of the unmodified model logits (no penalties, temperature or truncation),
// what vLLM reports by default ("raw_logprobs").
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "fp4/runtime/sampling_params.h"

namespace fp4 {
class ThreadPool;
}

namespace fp4::runtime::sampling {

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a bijection of a
// 128-bit counter under a 64-bit key, ten rounds.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// A uniform double in [0, 1) for draw `step` of completion `index` of the request keyed by `seed`
// (53 random bits from the first two Philox words).
double uniform01(uint64_t seed, uint32_t index, uint64_t step);

// The tokens a sequence has seen, for the penalties: which ids occur in the prompt and how often each
// id occurs in the output. Updated incrementally, one entry per distinct id.
class TokenHistory {
 public:
  TokenHistory() = default;
  explicit TokenHistory(std::span<const int32_t> prompt);
  void append(int32_t token);  // a generated token

  struct Occurrence {
    bool in_prompt = false;
    int32_t output_count = 0;
  };
  const std::unordered_map<int32_t, Occurrence>& occurrences() const { return seen_; }
  int64_t output_tokens() const { return output_tokens_; }

 private:
  std::unordered_map<int32_t, Occurrence> seen_;
  int64_t output_tokens_ = 0;
};

// Applies the penalties in place to logits [vocab], in vLLM's order: repetition (HF semantics: for every id
// seen in prompt or output, logit / penalty when logit > 0, else logit * penalty), then frequency and
// presence (OpenAI semantics: logit -= count * frequency + (count > 0) * presence, over output tokens).
void apply_penalties(std::span<float> logits, const TokenHistory& history, const SamplingParams& params);

// One row of a batch to sample.
struct SampleRow {
  const float* logits = nullptr;            // [vocab]; NaN counts as -inf, +inf as the largest float
  const SamplingParams* params = nullptr;
  const TokenHistory* history = nullptr;    // null: no penalties applied
  uint64_t seed = 0;                        // the request's seed (params->seed or draw_seed())
  uint32_t completion = 0;                  // index in [0, n) for n > 1
  uint64_t step = 0;                        // index of the token being generated, 0 for the first
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampleResult {
  int32_t token = 0;
  float logprob = 0.0f;             // raw log-softmax of the sampled token, when params->logprobs
  std::vector<TokenLogprob> top;    // the params->top_logprobs most likely tokens, most likely first
};

class Sampler {
 public:
  explicit Sampler(int64_t vocab_size);

  int64_t vocab_size() const { return vocab_; }

  // Samples one row; scratch grows to the vocabulary on first use (one per thread).
  SampleResult sample(const SampleRow& row);

  // Samples every row; uses the pool's threads when the batch is large enough to pay for the hand-off
  // (rows * vocab >= kParallelElements and at least two rows). Results are identical either way.
  std::vector<SampleResult> sample_batch(std::span<const SampleRow> rows, ThreadPool* pool = nullptr);

  static constexpr int64_t kParallelElements = int64_t{1} << 18;

 private:
  struct Scratch {
    std::vector<float> raw;       // [vocab] the row with NaN -> -inf and +inf -> the largest float
    std::vector<float> logits;    // [vocab] penalised logits
    std::vector<float> values;    // [vocab] logits to partially order for top_k
    std::vector<float> weights;   // [vocab] exp((w - w_max) / T), valid for the current candidates
    std::vector<int32_t> order;   // candidate ids
  };
  SampleResult sample_with(const SampleRow& row, Scratch& scratch) const;
  int32_t draw(const float* w, float w_max, int32_t best, const SampleRow& row, Scratch& scratch) const;

  int64_t vocab_;
  std::vector<Scratch> scratch_;  // one per thread of the pool in use
};

// Reference implementation for tests: the same transformations done the plain way (full sort of the
// vocabulary, explicit softmax in double). Returns the final probability of every token [vocab].
std::vector<double> reference_distribution(std::span<const float> logits, const SamplingParams& params,
                                           const TokenHistory* history);

}  // namespace fp4::runtime::sampling
