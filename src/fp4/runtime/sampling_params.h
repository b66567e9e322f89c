// Per-request sampling parameters: what the client may set (OpenAI / vLLM names), the defaults a model
// ships in generation_config.json, and the validation that turns an out-of-range value into one
// fp4::Error naming the field and the accepted range (the server answers it with HTTP 400).
//
// Precedence (as vLLM does with `--generation-config auto`): built-in default < generation_config.json
// < the request. `do_sample` in generation_config.json is ignored, like vLLM; a client that wants greedy
// decoding sends temperature 0.
//
// The types live in fp4::runtime::sampling so they cannot clash with the minimal single-sequence
// parameters that generate.h carries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fp4/io/generation_config.h"

namespace fp4::runtime::sampling {

// Limits that bound the work one request can cause; documented in docs/sampling.md.
inline constexpr int kMaxTopLogprobs = 20;       // OpenAI's limit for top_logprobs
inline constexpr int kMaxN = 128;                // completions per request
inline constexpr size_t kMaxStopStrings = 32;    // stop strings per request
inline constexpr size_t kMaxStopStringBytes = 256;
inline constexpr size_t kMaxStopTokenIds = 1024;

struct SamplingParams {
  double temperature = 1.0;         // 0 = greedy (argmax of the penalised logits)
  int64_t top_k = 0;                // 0 or -1 = off
  double top_p = 1.0;               // (0, 1]; 1 = off
  double min_p = 0.0;               // [0, 1]; 0 = off
  double repetition_penalty = 1.0;  // > 0; 1 = off (HF semantics over prompt + output)
  double presence_penalty = 0.0;    // [-2, 2] (OpenAI semantics over generated tokens)
  double frequency_penalty = 0.0;   // [-2, 2]
  std::optional<int64_t> seed;      // unset: the engine draws one per request (see draw_seed)
  std::optional<int64_t> max_tokens;            // unset: until the context is full
  std::optional<int64_t> max_reasoning_tokens;  // thinking budget; unset: no budget
  std::vector<std::string> stop;                // stop strings, not included in the output
  std::vector<int32_t> stop_token_ids;          // extra ids that end generation (besides EOS)
  bool include_stop_str_in_output = false;
  bool ignore_eos = false;
  bool logprobs = false;  // report the sampled token's logprob
  int top_logprobs = 0;   // also report this many most likely tokens, [0, 20]
  int n = 1;              // independent completions of the same prompt

  // True when every row would pick the argmax: temperature 0 or top_k 1.
  bool greedy() const { return temperature == 0.0 || top_k == 1; }
  bool top_k_active() const { return top_k > 0; }
  bool has_penalties() const {
    return repetition_penalty != 1.0 || presence_penalty != 0.0 || frequency_penalty != 0.0;
  }
};

// What a request set explicitly; unset fields fall back to the model's defaults.
struct SamplingRequest {
  std::optional<double> temperature;
  std::optional<int64_t> top_k;
  std::optional<double> top_p;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<double> presence_penalty;
  std::optional<double> frequency_penalty;
  std::optional<int64_t> seed;
  std::optional<int64_t> max_tokens;
  std::optional<int64_t> max_reasoning_tokens;
  std::optional<std::vector<std::string>> stop;
  std::optional<std::vector<int64_t>> stop_token_ids;
  std::optional<bool> include_stop_str_in_output;
  std::optional<bool> ignore_eos;
  std::optional<bool> logprobs;
  std::optional<int64_t> top_logprobs;
  std::optional<int64_t> n;
};

// The model's defaults: the built-in values overlaid by generation_config.json (temperature, top_p, top_k,
// repetition_penalty, max_new_tokens).
SamplingParams model_defaults(const io::GenerationConfig& config);

// Overlays the request on the defaults and validates the result. vocab_size > 0 also checks that
// stop_token_ids are ids of the vocabulary. Throws fp4::Error naming the first bad field.
SamplingParams resolve(const SamplingParams& defaults, const SamplingRequest& request, int64_t vocab_size = 0);

// Throws fp4::Error ("sampling: \"top_p\" is 1.5, expected a value in (0, 1]") for the first field out of
// range. vocab_size > 0 also bounds stop_token_ids.
void validate(const SamplingParams& params, int64_t vocab_size = 0);

// A fresh random seed for a request that did not send one (non-negative, so it can be reported back).
int64_t draw_seed();

}  // namespace fp4::runtime::sampling
