// TextGenerator over the in-process engine of a loaded model folder: chat messages go through the
// folder's chat template, a raw prompt through its tokenizer (with BOS), sampling fields the request
// leaves unset come from generation_config.json, and a reasoning model's <think> block is split off.
#pragma once

#include <string>

#include "fp4/apps/text_generator.h"
#include "fp4/runtime/served_model.h"

namespace fp4::apps {

class LocalGenerator : public TextGenerator {
 public:
  // The served model must outlive the generator.
  explicit LocalGenerator(runtime::ServedModel& served) : served_(served) {}

  // Throws fp4::Error for a request with both or neither of messages and prompt, an empty message list,
  // an unknown role, a sampling field out of range, or what the engine rejects (e.g. a prompt longer than
  // the context).
  GenerationResponse generate(const GenerationRequest& request) override;
  std::string model_name() const override { return served_.name; }

  // Whether chat prompts of this model get their <think> block split into `reasoning`: the template
  // writes <think> itself (R1, R1-0528, tiny-r1) or the rendered prompt contains it.
  bool chat_uses_reasoning(const std::string& rendered_prompt) const;

 private:
  runtime::ServedModel& served_;
};

}  // namespace fp4::apps
