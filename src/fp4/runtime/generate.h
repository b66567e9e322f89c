// Single-sequence generation: prefill the prompt in one forward pass, then decode one token per step
// with greedy or sampled selection (the engine's sampler), timing both phases.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "fp4/model/model.h"
#include "fp4/runtime/sampler.h"

namespace fp4::runtime {

// Greedy selection: the default of `fp4serve generate`.
inline sampling::SamplingParams greedy_sampling() {
  sampling::SamplingParams p;
  p.temperature = 0.0;
  return p;
}

struct GenerateOptions {
  int64_t max_tokens = 16;
  // Temperature, top_k/top_p/min_p, penalties and seed (runtime/sampler.h); stop_token_ids end generation
  // too. An unset seed is drawn once per call.
  sampling::SamplingParams sampling = greedy_sampling();
  std::vector<int32_t> stop_tokens;  // the model's end tokens (EOS); ignored when sampling.ignore_eos
  int64_t block_size = 16;           // KV cache block size in tokens
  model::ForwardOptions forward;     // dump hook, MLA form, exact matmul
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated tokens (the prompt not included)
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;  // all decode steps together (the first token comes from prefill)
  bool stopped = false;       // ended on a stop token rather than max_tokens
  uint64_t kv_cache_bytes = 0;

  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;  // generated tokens after the first / decode time
};

// on_token (optional) is called with each token as soon as it is chosen.
GenerateResult generate(model::Model& model, std::span<const int32_t> prompt, const GenerateOptions& options,
                        const std::function<void(int32_t)>& on_token = {});

}  // namespace fp4::runtime
