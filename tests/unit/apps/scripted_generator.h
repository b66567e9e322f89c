// A TextGenerator for tests: returns scripted answers in order and records every request, so the
// applications can be tested end to end (prompt in, parsed result out) without a model.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "fp4/apps/text_generator.h"
#include "fp4/base/error.h"

namespace fp4::apps::testing {

class ScriptedGenerator : public TextGenerator {
 public:
  struct Reply {
    std::string content;
    std::string reasoning;
    std::string finish_reason = "stop";
  };

  void add(std::string content, std::string reasoning = {}, std::string finish_reason = "stop") {
    std::lock_guard<std::mutex> lock(mutex_);
    replies_.push_back({std::move(content), std::move(reasoning), std::move(finish_reason)});
  }

  GenerationResponse generate(const GenerationRequest& request) override {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(request);
    FP4_CHECK(!replies_.empty(), "scripted generator: no reply left for request {}", requests_.size());
    Reply reply = std::move(replies_.front());
    replies_.pop_front();
    GenerationResponse response;
    response.prompt_tokens = 11;
    response.completion_tokens = 7;
    response.choices.push_back({std::move(reply.content), std::move(reply.reasoning), std::move(reply.finish_reason)});
    return response;
  }

  std::string model_name() const override { return "scripted"; }

  const std::vector<GenerationRequest>& requests() const { return requests_; }
  // The user message of the last request.
  const std::string& last_user_message() const { return requests_.back().messages.back().content; }

 private:
  std::mutex mutex_;
  std::deque<Reply> replies_;
  std::vector<GenerationRequest> requests_;
};

}  // namespace fp4::apps::testing
