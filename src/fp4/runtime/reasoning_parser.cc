#include "fp4/runtime/reasoning_parser.h"

#include <algorithm>

namespace fp4::runtime {
namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Length of the longest tail of text that is a proper prefix of tag.
size_t partial_tag_tail(std::string_view text, std::string_view tag) {
  for (size_t len = std::min(tag.size() - 1, text.size()); len > 0; --len) {
    if (text.substr(text.size() - len) == tag.substr(0, len)) return len;
  }
  return 0;
}

}  // namespace

ReasoningParser::ReasoningParser(bool opened_in_prompt, std::optional<int64_t> max_reasoning_tokens)
    : state_(opened_in_prompt ? State::kReasoning : State::kAwaitOpen), budget_(max_reasoning_tokens) {}

bool ReasoningParser::prompt_opens_reasoning(std::string_view prompt) {
  const size_t open = prompt.rfind(kOpenTag);
  if (open == std::string_view::npos) return false;
  const size_t close = prompt.rfind(kCloseTag);
  return close == std::string_view::npos || close < open;
}

void ReasoningParser::append(Delta& out, std::string_view text) {
  if (at_part_start_) {
    size_t i = 0;
    while (i < text.size() && is_space(text[i])) ++i;
    text.remove_prefix(i);
    if (text.empty()) return;
    at_part_start_ = false;
  }
  (state_ == State::kContent ? out.content : out.reasoning).append(text);
}

ReasoningParser::Delta ReasoningParser::push(std::string_view text, int64_t tokens) {
  const bool was_reasoning = state_ == State::kReasoning;
  Delta out;
  held_.append(text);
  std::string_view rest = held_;
  for (;;) {
    if (state_ == State::kAwaitOpen) {
      // Leading whitespace may precede the tag; decide once something else arrives.
      size_t i = 0;
      while (i < rest.size() && is_space(rest[i])) ++i;
      const std::string_view tail = rest.substr(i);
      if (tail.size() >= kOpenTag.size() && tail.substr(0, kOpenTag.size()) == kOpenTag) {
        rest = tail.substr(kOpenTag.size());
        state_ = State::kReasoning;
        at_part_start_ = true;
        continue;
      }
      if (tail.size() < kOpenTag.size() && tail == kOpenTag.substr(0, tail.size())) break;  // undecided yet
      state_ = State::kContent;  // the model answered without a reasoning block
      at_part_start_ = true;
      continue;
    }
    if (state_ == State::kReasoning) {
      const size_t close = rest.find(kCloseTag);
      if (close != std::string_view::npos) {
        append(out, rest.substr(0, close));
        rest.remove_prefix(close + kCloseTag.size());
        state_ = State::kContent;
        at_part_start_ = true;
        continue;
      }
      const size_t hold = partial_tag_tail(rest, kCloseTag);
      append(out, rest.substr(0, rest.size() - hold));
      rest.remove_prefix(rest.size() - hold);
      break;
    }
    append(out, rest);  // content: nothing more to look for
    rest = {};
    break;
  }
  held_ = std::string(rest);
  if (was_reasoning && state_ == State::kReasoning) reasoning_tokens_ += tokens;
  return out;
}

ReasoningParser::Delta ReasoningParser::finish() {
  Delta out;
  if (state_ == State::kAwaitOpen) state_ = State::kContent;  // only whitespace or a partial "<think" came
  append(out, held_);
  held_.clear();
  return out;
}

ReasoningParser::Delta ReasoningParser::split(std::string_view text, bool opened_in_prompt) {
  ReasoningParser parser(opened_in_prompt);
  Delta out = parser.push(text);
  Delta last = parser.finish();
  out.reasoning += last.reasoning;
  out.content += last.content;
  return out;
}

}  // namespace fp4::runtime
