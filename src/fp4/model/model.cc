#include "fp4/model/model.h"

#include <fmt/format.h>

#include "fp4/base/error.h"
#include "fp4/model/families.h"

namespace fp4::model {

std::unique_ptr<Model> Model::load(const std::string& dir, ThreadPool& pool) {
  io::ModelConfig config = io::load_model_config(dir);
  switch (config.arch) {
    case io::Architecture::kDeepseekV3:
    case io::Architecture::kDeepseekV2: return make_deepseek(dir, std::move(config), pool);
    case io::Architecture::kLlama:
    case io::Architecture::kQwen2:
    case io::Architecture::kQwen3: return make_llama(dir, std::move(config), pool);
  }
  fail("{}: model_type '{}' is not supported; supported: {}", config.source, config.model_type,
       io::accepted_model_types());
}

int64_t logit_rows(std::span<const BatchSequence> batch) {
  int64_t rows = 0;
  for (const BatchSequence& s : batch) {
    if (s.logits == BatchSequence::Logits::kLast) rows += 1;
    if (s.logits == BatchSequence::Logits::kAll) rows += static_cast<int64_t>(s.tokens.size());
  }
  return rows;
}

void Model::forward(std::span<const int32_t> tokens, int64_t pos0, const KvSequenceView& kv,
                    const ForwardOptions& options, float* logits) {
  BatchSequence one;
  one.tokens = tokens;
  one.pos0 = pos0;
  one.kv = kv;
  one.logits = options.all_logits ? BatchSequence::Logits::kAll : BatchSequence::Logits::kLast;
  forward_batch(std::span<const BatchSequence>(&one, 1), options, logits);
}

void Model::allocate_kv(int64_t num_blocks, int64_t block_size) {
  fail("{}: this model reads the runtime's host KV pools; allocate_kv ({} blocks of {} tokens) is for a model "
       "that keeps the cache on its device", config_.source, num_blocks, block_size);
}

void Model::copy_kv_rows(int32_t src, int32_t dst, int64_t rows) {
  fail("{}: this model reads the runtime's host KV pools; copy_kv_rows ({} rows, block {} to {}) is for a model "
       "that keeps the cache on its device", config_.source, rows, src, dst);
}

Linear bind_lm_head(WeightBinder& binder, const io::ModelConfig& config, const Embedding& embed) {
  if (binder.has("lm_head.weight") || !config.tie_word_embeddings) {
    return binder.linear("lm_head", config.vocab_size, config.hidden_size);
  }
  Linear tied;
  tied.name = "model.embed_tokens (tied lm_head)";
  tied.w = embed.as_linear();
  return tied;
}

}  // namespace fp4::model
