#include "fp4/apps/local_generator.h"

#include <utility>

#include "fp4/base/error.h"
#include "fp4/runtime/reasoning_parser.h"

namespace fp4::apps {

bool LocalGenerator::chat_uses_reasoning(const std::string& rendered_prompt) const {
  const std::string_view open = runtime::ReasoningParser::kOpenTag;
  if (rendered_prompt.find(open) != std::string::npos) return true;
  return served_.chat_template && served_.chat_template->source().find(open) != std::string::npos;
}

GenerationResponse LocalGenerator::generate(const GenerationRequest& request) {
  const bool chat = !request.messages.empty();
  FP4_CHECK(chat != request.prompt.has_value(),
            "generate: give either chat messages or a raw prompt (got {})", chat ? "both" : "neither");

  runtime::EngineRequest engine_request;
  if (chat) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    for (size_t i = 0; i < request.messages.size(); ++i) {
      const ChatMessage& m = request.messages[i];
      FP4_CHECK(m.role == "system" || m.role == "user" || m.role == "assistant",
                "generate: messages[{}].role is \"{}\", expected \"system\", \"user\" or \"assistant\"", i, m.role);
      messages.push_back({{"role", m.role}, {"content", m.content}});
    }
    std::string rendered;
    engine_request.prompt = served_.encode_chat(messages, nlohmann::ordered_json(), request.template_kwargs, &rendered);
    engine_request.split_reasoning = chat_uses_reasoning(rendered);
    engine_request.prompt_opens_reasoning = runtime::ReasoningParser::prompt_opens_reasoning(rendered);
  } else {
    // A raw prompt is completed as written, like /v1/completions: no reasoning split.
    engine_request.prompt = served_.encode_prompt(*request.prompt);
  }
  FP4_CHECK(!engine_request.prompt.empty(), "generate: the prompt encodes to no tokens");
  engine_request.params = runtime::sampling::resolve(served_.defaults, request.sampling, served_.model->vocab_size());

  runtime::RequestResult result = runtime::run_to_completion(*served_.engine, std::move(engine_request));
  GenerationResponse response;
  response.prompt_tokens = result.prompt_tokens;
  response.completion_tokens = result.completion_tokens;
  for (runtime::CompletionResult& c : result.completions) {
    GeneratedText text;
    text.content = std::move(c.text);
    text.reasoning = std::move(c.reasoning);
    text.finish_reason = std::string(runtime::finish_reason_name(c.finish));
    response.choices.push_back(std::move(text));
  }
  return response;
}

}  // namespace fp4::apps
