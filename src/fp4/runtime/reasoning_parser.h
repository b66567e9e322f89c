// Splits a reasoning model's output into reasoning_content (inside <think>...</think>) and content.
//
// DeepSeek-R1-0528's chat template ends the prompt with "<think>\n", so the output starts inside the
// block and only "</think>" appears; other templates leave it to the model to open the block. Both are
// handled: opened_in_prompt says which case holds (prompt_opens_reasoning() decides it from the rendered
// prompt). Text that starts neither way is content. An output that never closes the block is all
// reasoning.
//
// Tags may be split across deltas ("</th" + "ink>"): a tail that could be the start of the awaited tag
// is held back until it resolves. Whitespace at the start of each part (the "\n" after <think>, the
// "\n\n" after </think>) is dropped. split(text) is exactly push(text) + finish(), so whole-text and
// streamed results always agree.
//
// Thinking budget: with max_reasoning_tokens set, force_close() turns true once that many tokens were
// generated inside the block; the engine then appends the tokens of kForcedCloseText (feeding them
// through the model like sampled tokens, and through push()) instead of sampling, which ends the block.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fp4::runtime {

class ReasoningParser {
 public:
  static constexpr std::string_view kOpenTag = "<think>";
  static constexpr std::string_view kCloseTag = "</think>";
  static constexpr std::string_view kForcedCloseText = "\n</think>\n\n";

  explicit ReasoningParser(bool opened_in_prompt, std::optional<int64_t> max_reasoning_tokens = std::nullopt);

  // True when the rendered prompt leaves a <think> block open (its last <think> has no </think> after it).
  static bool prompt_opens_reasoning(std::string_view prompt);

  struct Delta {
    std::string reasoning;
    std::string content;
    bool empty() const { return reasoning.empty() && content.empty(); }
  };

  // The text of the next `tokens` generated tokens (usually one). Returns what can be sent now.
  Delta push(std::string_view text, int64_t tokens = 1);
  // End of generation: releases anything held back.
  Delta finish();

  // Whole-text split (non-streaming responses).
  static Delta split(std::string_view text, bool opened_in_prompt);

  bool in_reasoning() const { return state_ == State::kReasoning; }
  int64_t reasoning_tokens() const { return reasoning_tokens_; }
  // The budget is spent and the block is still open: the engine must force kForcedCloseText now.
  bool force_close() const { return budget_ && in_reasoning() && reasoning_tokens_ >= *budget_; }

 private:
  enum class State { kAwaitOpen, kReasoning, kContent };
  void append(Delta& out, std::string_view text);  // to the current part, dropping its leading whitespace

  State state_;
  std::optional<int64_t> budget_;
  int64_t reasoning_tokens_ = 0;
  bool at_part_start_ = true;  // nothing but whitespace emitted into the current part yet
  std::string held_;           // a tail that may be the start of the awaited tag
};

}  // namespace fp4::runtime
