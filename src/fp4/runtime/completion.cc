#include "fp4/runtime/completion.h"

#include <algorithm>

namespace fp4::runtime {

Completion::Completion(int index, Sequence seq, const CompletionContext& context)
    : index_(index),
      seq_(std::move(seq)),
      ctx_(context),
      history_(seq_.prompt()),
      decoder_(*context.tokenizer, /*skip_special_tokens=*/true),
      stop_(StopMatcher::from_params(*context.params, *context.eos_ids)) {
  if (context.split_reasoning || context.params->max_reasoning_tokens) {
    parser_.emplace(context.prompt_opens_reasoning, context.params->max_reasoning_tokens);
  }
  delta_.index = index;
}

int64_t Completion::accept(const sampling::SampleResult& sampled) {
  append(sampled.token, sampled.logprob, sampled.top, /*forced=*/false);
  int64_t appended = 1;
  if (!finished() && must_force_close()) appended += force_close();
  return appended;
}

int64_t Completion::force_close() {
  int64_t appended = 0;
  for (int32_t token : *ctx_.forced_close_tokens) {
    if (finished()) break;
    // Not sampled: probability 1 by construction, no alternatives.
    append(token, 0.0f, {}, /*forced=*/true);
    ++appended;
  }
  return appended;
}

void Completion::append(int32_t token, float logprob, std::vector<sampling::TokenLogprob> top, bool forced) {
  seq_.append(token);
  history_.append(token);
  changed_ = true;
  delta_.tokens.push_back({token, logprob, std::move(top), {}});
  const size_t slot = delta_.tokens.size() - 1;

  if (!forced && stop_.stop_token(token)) {
    // EOS or a stop id: its text is not output, but what the matchers held back is.
    const auto& ids = ctx_.params->stop_token_ids;
    std::optional<std::string> reason;
    if (std::find(ids.begin(), ids.end(), token) != ids.end()) {
      const uint32_t id = static_cast<uint32_t>(token);
      reason = ctx_.tokenizer->decode(std::span<const uint32_t>(&id, 1));
    }
    std::string released = release_held_text();
    delta_.tokens[slot].text = std::move(released);
    end(FinishReason::kStop, stop_hit_ ? stop_hit_ : reason);
    return;
  }
  delta_.tokens[slot].text = feed(decoder_.step(static_cast<uint32_t>(token)), 1);
  if (stop_hit_) {
    end(FinishReason::kStop, stop_hit_);
    return;
  }
  const bool out_of_tokens = ctx_.params->max_tokens && seq_.generated() >= *ctx_.params->max_tokens;
  const bool out_of_context = seq_.size() >= ctx_.max_model_len;
  if (out_of_tokens || out_of_context) {
    delta_.tokens[slot].text += release_held_text();
    end(stop_hit_ ? FinishReason::kStop : FinishReason::kLength, stop_hit_);
  }
}

std::string Completion::feed(const std::string& text, int64_t tokens) {
  std::string released;
  auto push_content = [&](const std::string& content) {
    if (content.empty() || stop_.stopped()) return;
    StopMatcher::Release r = stop_.push(content);
    delta_.text += r.text;
    released += r.text;
    if (r.stopped) stop_hit_ = std::move(r.stopped);
  };
  if (!parser_) {
    push_content(text);
    return released;
  }
  ReasoningParser::Delta d = parser_->push(text, tokens);
  if (!ctx_.split_reasoning) {
    push_content(text);  // the parser only counts the thinking budget
    return released;
  }
  delta_.reasoning += d.reasoning;
  released += d.reasoning;
  push_content(d.content);
  return released;
}

std::string Completion::release_held_text() {
  std::string released;
  const std::string rest = decoder_.flush();
  if (!rest.empty()) released += feed(rest, 0);
  if (parser_ && ctx_.split_reasoning) {
    ReasoningParser::Delta d = parser_->finish();
    delta_.reasoning += d.reasoning;
    released += d.reasoning;
    if (!d.content.empty() && !stop_.stopped()) {
      StopMatcher::Release r = stop_.push(d.content);
      delta_.text += r.text;
      released += r.text;
      if (r.stopped) stop_hit_ = std::move(r.stopped);
    }
  }
  if (!stop_.stopped()) {
    const std::string tail = stop_.flush();
    delta_.text += tail;
    released += tail;
  }
  return released;
}

void Completion::finish(FinishReason reason) {
  if (finished()) return;
  std::string released = release_held_text();
  if (!released.empty() && !delta_.tokens.empty()) delta_.tokens.back().text += released;
  end(stop_hit_ ? FinishReason::kStop : reason, stop_hit_);
}

void Completion::end(FinishReason reason, std::optional<std::string> stop_reason) {
  finish_ = reason;
  delta_.finish = reason;
  delta_.stop_reason = std::move(stop_reason);
  changed_ = true;
}

CompletionDelta Completion::take_delta() {
  CompletionDelta out = std::move(delta_);
  delta_ = CompletionDelta{};
  delta_.index = index_;
  changed_ = false;
  return out;
}

}  // namespace fp4::runtime
