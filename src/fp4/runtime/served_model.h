// Everything needed to serve one model folder: the model, its tokenizer, its chat template, the sampling
// defaults of generation_config.json, the end-of-sequence ids, and the engine running them. The server,
// the in-process generator of the apps and eval, and the CLI all load a model through this.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/chat/chat_template.h"
#include "fp4/model/model.h"
#include "fp4/runtime/engine.h"
#include "fp4/runtime/load_model.h"
#include "fp4/runtime/sampling_params.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::runtime {

struct ServedModel {
  std::string name;  // what /v1/models reports: --served-model-name, else the folder's name
  std::string dir;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<model::Model> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::optional<chat::ChatTemplate> chat_template;  // absent: chat requests get a 400 naming the folder
  sampling::SamplingParams defaults;                // built-in < generation_config.json
  std::vector<int32_t> eos_ids;                     // generation_config.json eos_token_id, else tokenizer's
  std::unique_ptr<Engine> engine;

  // Loads the folder onto `device` (runtime/load_model.h) and starts the engine. threads 0: every core.
  // Throws fp4::Error naming the file.
  static std::unique_ptr<ServedModel> load(const std::string& dir, const EngineConfig& config, int threads = 0,
                                           std::string served_name = {}, Device device = Device::kCpu);

  // Renders messages with the chat template (add_generation_prompt) and tokenizes the result without
  // adding special tokens again (the template writes BOS itself). Throws fp4::Error when the folder has no
  // chat template or the template raises.
  std::vector<int32_t> encode_chat(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                   const nlohmann::ordered_json& template_kwargs, std::string* rendered = nullptr) const;
  // Tokenizes a raw prompt with the tokenizer's special tokens (BOS), as /v1/completions does.
  std::vector<int32_t> encode_prompt(const std::string& prompt) const;
};

}  // namespace fp4::runtime
