#include "fp4/runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "fp4/base/error.h"
#include "fp4/runtime/kv_cache.h"

namespace fp4::runtime {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

double GenerateResult::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0.0;
}

double GenerateResult::decode_tokens_per_second() const {
  const double steps = tokens.size() > 1 ? static_cast<double>(tokens.size() - 1) : 0.0;
  return decode_seconds > 0 ? steps / decode_seconds : 0.0;
}

GenerateResult generate(model::Model& model, std::span<const int32_t> prompt, const GenerateOptions& options,
                        const std::function<void(int32_t)>& on_token) {
  FP4_CHECK(!prompt.empty(), "generate: the prompt is empty");
  FP4_CHECK(options.max_tokens > 0, "generate: max_tokens {} must be positive", options.max_tokens);
  sampling::validate(options.sampling, model.vocab_size());
  const int64_t P = static_cast<int64_t>(prompt.size());
  const int64_t total = P + options.max_tokens;
  FP4_CHECK(model.config().max_position_embeddings <= 0 || total <= model.config().max_position_embeddings,
            "generate: prompt ({}) + max_tokens ({}) exceeds max_position_embeddings {}", P, options.max_tokens,
            model.config().max_position_embeddings);

  KvCache cache = KvCache::for_model(model, total, options.block_size);
  SequenceKv seq(cache);
  seq.reserve(total);
  sampling::Sampler sampler(model.vocab_size());
  sampling::TokenHistory history(prompt);
  const uint64_t seed = static_cast<uint64_t>(options.sampling.seed.value_or(sampling::draw_seed()));
  std::vector<int32_t> stops = options.sampling.stop_token_ids;
  if (!options.sampling.ignore_eos) stops.insert(stops.end(), options.stop_tokens.begin(), options.stop_tokens.end());
  std::vector<float> logits(static_cast<size_t>(model.vocab_size()));
  model::ForwardOptions fwd = options.forward;
  fwd.all_logits = false;

  GenerateResult r;
  r.prompt_tokens = P;
  r.kv_cache_bytes = cache.bytes();
  auto next_token = [&]() {
    sampling::SampleRow row;
    row.logits = logits.data();
    row.params = &options.sampling;
    row.history = options.sampling.has_penalties() ? &history : nullptr;
    row.seed = seed;
    row.step = r.tokens.size();
    return sampler.sample(row).token;
  };
  auto emit = [&](int32_t token) {
    r.tokens.push_back(token);
    history.append(token);
    if (on_token) on_token(token);
    if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
      r.stopped = true;
    }
  };

  auto t0 = std::chrono::steady_clock::now();
  model.forward(prompt, 0, seq.view(), fwd, logits.data());  // [1, vocab] for the last prompt token
  emit(next_token());
  r.prefill_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  while (!r.stopped && static_cast<int64_t>(r.tokens.size()) < options.max_tokens) {
    const int32_t last = r.tokens.back();
    const int64_t pos = P + static_cast<int64_t>(r.tokens.size()) - 1;
    model.forward(std::span<const int32_t>(&last, 1), pos, seq.view(), fwd, logits.data());
    emit(next_token());
  }
  r.decode_seconds = seconds_since(t0);
  return r;
}

}  // namespace fp4::runtime
