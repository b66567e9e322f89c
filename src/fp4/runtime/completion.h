// One completion of a request inside the engine: its token sequence (what the scheduler moves around) and
// its text pipeline, run once per generated token:
//
//   token → stop token? → StreamDecoder (complete UTF-8 only) → ReasoningParser (split_reasoning only:
//   <think>…</think> goes to the reasoning part) → StopMatcher on the content part → released text
//
// It also applies the length limits (max_tokens counts every generated token, forced ones included; the
// context ends at max_model_len) and the thinking budget: once ReasoningParser::force_close() holds, the
// tokens of kForcedCloseText are appended instead of a sampled token, and are fed through the model
// like any other pending tokens. Everything released since the last update collects in delta().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fp4/runtime/engine.h"
#include "fp4/runtime/reasoning_parser.h"
#include "fp4/runtime/sampler.h"
#include "fp4/runtime/sequence.h"
#include "fp4/runtime/stop_matcher.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::runtime {

// What a completion needs to know about its request and the engine.
struct CompletionContext {
  const sampling::SamplingParams* params = nullptr;
  const std::vector<int32_t>* eos_ids = nullptr;
  const std::vector<int32_t>* forced_close_tokens = nullptr;  // kForcedCloseText, tokenized
  const tokenizer::Tokenizer* tokenizer = nullptr;
  int64_t max_model_len = 0;
  bool split_reasoning = false;
  bool prompt_opens_reasoning = false;
};

class Completion {
 public:
  Completion(int index, Sequence seq, const CompletionContext& context);

  int index() const { return index_; }
  Sequence& seq() { return seq_; }
  const Sequence& seq() const { return seq_; }
  bool finished() const { return finish_.has_value(); }

  // The thinking budget is spent inside an open block: the next tokens must be the forced close.
  bool must_force_close() const { return parser_ && parser_->force_close(); }
  // Appends a sampled token and runs it through the text pipeline and the limits (which may finish the
  // completion). Then, when the budget says so, appends the forced close. Returns the tokens appended.
  int64_t accept(const sampling::SampleResult& sampled);
  // Appends the forced close instead of a sampled token. Returns the tokens appended.
  int64_t force_close();
  // Ends the completion for a reason outside the token stream (cancel, timeout, shutdown). Releases any
  // held-back text first, as a length end does.
  void finish(FinishReason reason);

  // The penalties' view of prompt + output.
  const sampling::TokenHistory& history() const { return history_; }

  // Output since the last take_delta(); changed() is false when there is nothing to report.
  bool changed() const { return changed_; }
  CompletionDelta take_delta();

 private:
  void append(int32_t token, float logprob, std::vector<sampling::TokenLogprob> top, bool forced);
  // Runs decoded text through the reasoning split and the stop matcher; returns the text released.
  std::string feed(const std::string& text, int64_t tokens);
  std::string release_held_text();
  void end(FinishReason reason, std::optional<std::string> stop_reason);
  void check_limits();

  int index_;
  Sequence seq_;
  CompletionContext ctx_;
  sampling::TokenHistory history_;
  tokenizer::StreamDecoder decoder_;
  // Present with split_reasoning or a thinking budget; without split_reasoning it only tracks the block
  // for the budget and the text goes to the content part unchanged.
  std::optional<ReasoningParser> parser_;
  StopMatcher stop_;
  std::optional<std::string> stop_hit_;  // the stop string the matcher reported
  std::optional<FinishReason> finish_;
  CompletionDelta delta_;
  bool changed_ = false;
};

}  // namespace fp4::runtime
