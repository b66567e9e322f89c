#include "fp4/runtime/sampling_params.h"

#include <cmath>
#include <limits>
#include <random>

#include "fp4/base/error.h"

namespace fp4::runtime::sampling {
namespace {

// Every message has the same shape so a client can read which field and what range.
[[noreturn]] void reject(const char* field, const std::string& value, const char* expected) {
  fail("sampling: \"{}\" is {}, expected {}", field, value, expected);
}

void check_real(const char* field, double v, bool ok, const char* expected) {
  if (!std::isfinite(v) || !ok) reject(field, fmt::format("{}", v), expected);
}

}  // namespace

SamplingParams model_defaults(const io::GenerationConfig& config) {
  SamplingParams p;
  if (config.temperature) p.temperature = *config.temperature;
  if (config.top_p) p.top_p = *config.top_p;
  if (config.top_k) p.top_k = *config.top_k;
  if (config.repetition_penalty) p.repetition_penalty = *config.repetition_penalty;
  if (config.max_new_tokens && *config.max_new_tokens > 0) p.max_tokens = *config.max_new_tokens;
  validate(p);  // a checkpoint's own defaults must be usable too
  return p;
}

SamplingParams resolve(const SamplingParams& defaults, const SamplingRequest& r, int64_t vocab_size) {
  SamplingParams p = defaults;
  if (r.temperature) p.temperature = *r.temperature;
  if (r.top_k) p.top_k = *r.top_k;
  if (r.top_p) p.top_p = *r.top_p;
  if (r.min_p) p.min_p = *r.min_p;
  if (r.repetition_penalty) p.repetition_penalty = *r.repetition_penalty;
  if (r.presence_penalty) p.presence_penalty = *r.presence_penalty;
  if (r.frequency_penalty) p.frequency_penalty = *r.frequency_penalty;
  if (r.seed) p.seed = *r.seed;
  if (r.max_tokens) p.max_tokens = *r.max_tokens;
  if (r.max_reasoning_tokens) p.max_reasoning_tokens = *r.max_reasoning_tokens;
  if (r.stop) p.stop = *r.stop;
  if (r.include_stop_str_in_output) p.include_stop_str_in_output = *r.include_stop_str_in_output;
  if (r.ignore_eos) p.ignore_eos = *r.ignore_eos;
  if (r.logprobs) p.logprobs = *r.logprobs;
  // Integers arrive as int64 from JSON; range-check before narrowing so 2^32 + 1 is not read as 1.
  if (r.top_logprobs) {
    if (*r.top_logprobs < 0 || *r.top_logprobs > kMaxTopLogprobs) {
      reject("top_logprobs", std::to_string(*r.top_logprobs), "an integer in [0, 20]");
    }
    p.top_logprobs = static_cast<int>(*r.top_logprobs);
  }
  if (r.n) {
    if (*r.n < 1 || *r.n > kMaxN) reject("n", std::to_string(*r.n), "an integer in [1, 128]");
    p.n = static_cast<int>(*r.n);
  }
  if (r.stop_token_ids) {
    p.stop_token_ids.clear();
    for (int64_t id : *r.stop_token_ids) {
      if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
        reject("stop_token_ids", std::to_string(id), "token ids >= 0");
      }
      p.stop_token_ids.push_back(static_cast<int32_t>(id));
    }
  }
  validate(p, vocab_size);
  return p;
}

void validate(const SamplingParams& p, int64_t vocab_size) {
  check_real("temperature", p.temperature, p.temperature >= 0.0, "a finite value >= 0 (0 = greedy)");
  if (p.top_k < -1) reject("top_k", std::to_string(p.top_k), "-1 or 0 (off) or a positive integer");
  check_real("top_p", p.top_p, p.top_p > 0.0 && p.top_p <= 1.0, "a value in (0, 1]");
  check_real("min_p", p.min_p, p.min_p >= 0.0 && p.min_p <= 1.0, "a value in [0, 1]");
  check_real("repetition_penalty", p.repetition_penalty, p.repetition_penalty > 0.0, "a finite value > 0 (1 = off)");
  check_real("presence_penalty", p.presence_penalty, p.presence_penalty >= -2.0 && p.presence_penalty <= 2.0,
             "a value in [-2, 2]");
  check_real("frequency_penalty", p.frequency_penalty, p.frequency_penalty >= -2.0 && p.frequency_penalty <= 2.0,
             "a value in [-2, 2]");
  if (p.max_tokens && *p.max_tokens < 1) reject("max_tokens", std::to_string(*p.max_tokens), "an integer >= 1");
  if (p.max_reasoning_tokens && *p.max_reasoning_tokens < 0) {
    reject("max_reasoning_tokens", std::to_string(*p.max_reasoning_tokens), "an integer >= 0");
  }
  if (p.top_logprobs < 0 || p.top_logprobs > kMaxTopLogprobs) {
    reject("top_logprobs", std::to_string(p.top_logprobs), "an integer in [0, 20]");
  }
  if (p.top_logprobs > 0 && !p.logprobs) {
    reject("top_logprobs", std::to_string(p.top_logprobs), "0 unless \"logprobs\" is true");
  }
  if (p.n < 1 || p.n > kMaxN) reject("n", std::to_string(p.n), "an integer in [1, 128]");
  if (p.stop.size() > kMaxStopStrings) {
    reject("stop", fmt::format("a list of {} strings", p.stop.size()), "at most 32 strings");
  }
  for (const std::string& s : p.stop) {
    if (s.empty()) reject("stop", "a list holding an empty string", "non-empty strings");
    if (s.size() > kMaxStopStringBytes) {
      reject("stop", fmt::format("a list holding a {}-byte string", s.size()), "strings of at most 256 bytes");
    }
  }
  if (p.stop_token_ids.size() > kMaxStopTokenIds) {
    reject("stop_token_ids", fmt::format("a list of {} ids", p.stop_token_ids.size()), "at most 1024 ids");
  }
  for (int32_t id : p.stop_token_ids) {
    if (id < 0 || (vocab_size > 0 && id >= vocab_size)) {
      reject("stop_token_ids", fmt::format("a list holding {}", id),
             vocab_size > 0 ? fmt::format("ids in [0, {})", vocab_size).c_str() : "ids >= 0");
    }
  }
}

int64_t draw_seed() {
  std::random_device device;
  const uint64_t bits = (static_cast<uint64_t>(device()) << 32) ^ device();
  return static_cast<int64_t>(bits >> 1);  // non-negative
}

}  // namespace fp4::runtime::sampling
