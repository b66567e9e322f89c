// Constructors of the model families and the piece every family shares (output head binding).
#pragma once

#include <memory>
#include <string>

#include "fp4/base/thread_pool.h"
#include "fp4/io/model_config.h"
#include "fp4/model/model.h"
#include "fp4/model/weights.h"

namespace fp4::model {

std::unique_ptr<Model> make_deepseek(const std::string& dir, io::ModelConfig config, ThreadPool& pool);
std::unique_ptr<Model> make_llama(const std::string& dir, io::ModelConfig config, ThreadPool& pool);

// lm_head.weight [vocab, hidden], or the embedding table when tie_word_embeddings is set and the
// checkpoint has no lm_head (HF ties them).
Linear bind_lm_head(WeightBinder& binder, const io::ModelConfig& config, const Embedding& embed);

}  // namespace fp4::model
