#include "fp4/server/response_builder.h"

#include <cmath>

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

ordered_json utf8_bytes(const std::string& s) {
  ordered_json bytes = ordered_json::array();
  for (unsigned char c : s) bytes.push_back(static_cast<int>(c));
  return bytes;
}

ordered_json optional_string(const std::optional<std::string>& s) {
  return s ? ordered_json(*s) : ordered_json(nullptr);
}

}  // namespace

double json_logprob(float logprob) {
  if (std::isnan(logprob) || logprob < -9999.0f) return -9999.0;
  return static_cast<double>(logprob);
}

std::string finish_reason_text(runtime::FinishReason reason) {
  switch (reason) {
    case runtime::FinishReason::kStop:
      return "stop";
    case runtime::FinishReason::kLength:
      return "length";
    case runtime::FinishReason::kCancelled:
      return "cancelled";
  }
  return "stop";
}

ordered_json chat_logprobs(std::span<const runtime::TokenOutput> tokens, const TokenText& token_text) {
  ordered_json content = ordered_json::array();
  for (const runtime::TokenOutput& t : tokens) {
    const std::string text = token_text(t.token);
    ordered_json entry;
    entry["token"] = text;
    entry["logprob"] = json_logprob(t.logprob);
    entry["bytes"] = utf8_bytes(text);
    ordered_json top = ordered_json::array();
    for (const auto& alt : t.top) {
      const std::string alt_text = token_text(alt.token);
      top.push_back({{"token", alt_text}, {"logprob", json_logprob(alt.logprob)}, {"bytes", utf8_bytes(alt_text)}});
    }
    entry["top_logprobs"] = std::move(top);
    content.push_back(std::move(entry));
  }
  ordered_json out;
  out["content"] = std::move(content);
  return out;
}

ordered_json completion_logprobs(std::span<const runtime::TokenOutput> tokens, const TokenText& token_text,
                                 size_t* text_offset) {
  ordered_json out;
  ordered_json toks = ordered_json::array(), lps = ordered_json::array(), tops = ordered_json::array(),
               offsets = ordered_json::array();
  for (const runtime::TokenOutput& t : tokens) {
    toks.push_back(token_text(t.token));
    lps.push_back(json_logprob(t.logprob));
    ordered_json top = ordered_json::object();
    for (const auto& alt : t.top) top[token_text(alt.token)] = json_logprob(alt.logprob);
    tops.push_back(std::move(top));
    offsets.push_back(*text_offset);
    *text_offset += t.text.size();
  }
  out["tokens"] = std::move(toks);
  out["token_logprobs"] = std::move(lps);
  out["top_logprobs"] = std::move(tops);
  out["text_offset"] = std::move(offsets);
  return out;
}

ResponseBuilder::ResponseBuilder(Options options, TokenText token_text)
    : options_(std::move(options)),
      token_text_(std::move(token_text)),
      choices_(options_.prompts * static_cast<size_t>(options_.n)),
      prompts_(options_.prompts) {}

ordered_json ResponseBuilder::chunk_envelope() const {
  ordered_json c;
  c["id"] = options_.id;
  c["object"] = options_.kind == ApiKind::kChat ? "chat.completion.chunk" : "text_completion";
  c["created"] = options_.created;
  c["model"] = options_.model;
  return c;
}

ordered_json ResponseBuilder::choice_chunk(size_t index, const runtime::CompletionDelta& delta, Choice& choice) const {
  ordered_json c;
  c["index"] = index;
  if (options_.kind == ApiKind::kChat) {
    ordered_json d = ordered_json::object();
    if (!delta.reasoning.empty()) d["reasoning_content"] = delta.reasoning;
    if (!delta.text.empty()) d["content"] = delta.text;
    c["delta"] = std::move(d);
    c["logprobs"] = options_.logprobs ? chat_logprobs(delta.tokens, token_text_) : ordered_json(nullptr);
  } else {
    c["text"] = delta.text;
    c["logprobs"] = options_.logprobs ? completion_logprobs(delta.tokens, token_text_, &choice.text_offset)
                                      : ordered_json(nullptr);
  }
  c["finish_reason"] = delta.finish ? ordered_json(finish_reason_text(*delta.finish)) : ordered_json(nullptr);
  if (delta.finish) c["stop_reason"] = optional_string(delta.stop_reason);
  return c;
}

std::vector<ordered_json> ResponseBuilder::apply(const TaggedUpdate& tagged, bool want_chunks) {
  const runtime::RequestUpdate& u = tagged.update;
  PromptState& p = prompts_.at(tagged.prompt_index);
  p.prompt_tokens = u.prompt_tokens;
  p.cached_tokens = u.cached_prompt_tokens;
  p.completion_tokens = u.completion_tokens;
  p.finished = p.finished || u.finished;
  std::vector<ordered_json> chunks;
  for (const runtime::CompletionDelta& d : u.deltas) {
    if (d.index < 0 || d.index >= options_.n) continue;  // not one of ours; the engine promises [0, n)
    const size_t index = tagged.prompt_index * static_cast<size_t>(options_.n) + static_cast<size_t>(d.index);
    Choice& choice = choices_[index];
    choice.text += d.text;
    choice.reasoning += d.reasoning;
    if (options_.logprobs) choice.tokens.insert(choice.tokens.end(), d.tokens.begin(), d.tokens.end());
    if (d.finish) {
      choice.finish = d.finish;
      choice.stop_reason = d.stop_reason;
    }
    if (!want_chunks) continue;
    const bool has_tokens = options_.logprobs && !d.tokens.empty();
    if (d.text.empty() && d.reasoning.empty() && !d.finish && !has_tokens) continue;
    ordered_json chunk = chunk_envelope();
    chunk["choices"] = ordered_json::array({choice_chunk(index, d, choice)});
    if (options_.continuous_usage) chunk["usage"] = usage();
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

bool ResponseBuilder::all_finished() const {
  for (const PromptState& p : prompts_) {
    if (!p.finished) return false;
  }
  return true;
}

std::vector<ordered_json> ResponseBuilder::role_chunks() const {
  std::vector<ordered_json> out;
  for (size_t i = 0; i < choices_.size(); ++i) {
    ordered_json chunk = chunk_envelope();
    ordered_json c;
    c["index"] = i;
    c["delta"] = {{"role", "assistant"}, {"content", ""}};
    c["logprobs"] = nullptr;
    c["finish_reason"] = nullptr;
    chunk["choices"] = ordered_json::array({std::move(c)});
    out.push_back(std::move(chunk));
  }
  return out;
}

int64_t ResponseBuilder::prompt_tokens() const {
  int64_t total = 0;
  for (const PromptState& p : prompts_) total += p.prompt_tokens;
  return total;
}

int64_t ResponseBuilder::completion_tokens() const {
  int64_t total = 0;
  for (const PromptState& p : prompts_) total += p.completion_tokens;
  return total;
}

ordered_json ResponseBuilder::usage() const {
  int64_t cached = 0;
  for (const PromptState& p : prompts_) cached += p.cached_tokens;
  ordered_json u;
  u["prompt_tokens"] = prompt_tokens();
  u["completion_tokens"] = completion_tokens();
  u["total_tokens"] = prompt_tokens() + completion_tokens();
  u["prompt_tokens_details"] = {{"cached_tokens", cached}};
  return u;
}

ordered_json ResponseBuilder::usage_chunk() const {
  ordered_json chunk = chunk_envelope();
  chunk["choices"] = ordered_json::array();
  chunk["usage"] = usage();
  return chunk;
}

ordered_json ResponseBuilder::final_response() const {
  ordered_json r;
  r["id"] = options_.id;
  r["object"] = options_.kind == ApiKind::kChat ? "chat.completion" : "text_completion";
  r["created"] = options_.created;
  r["model"] = options_.model;
  ordered_json choices = ordered_json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& ch = choices_[i];
    ordered_json c;
    c["index"] = i;
    if (options_.kind == ApiKind::kChat) {
      ordered_json message;
      message["role"] = "assistant";
      message["content"] = ch.text;
      message["reasoning_content"] = ch.reasoning.empty() ? ordered_json(nullptr) : ordered_json(ch.reasoning);
      c["message"] = std::move(message);
      c["logprobs"] = options_.logprobs ? chat_logprobs(ch.tokens, token_text_) : ordered_json(nullptr);
    } else {
      c["text"] = ch.text;
      size_t offset = 0;
      c["logprobs"] = options_.logprobs ? completion_logprobs(ch.tokens, token_text_, &offset) : ordered_json(nullptr);
    }
    c["finish_reason"] = ch.finish ? ordered_json(finish_reason_text(*ch.finish)) : ordered_json(nullptr);
    c["stop_reason"] = optional_string(ch.stop_reason);
    choices.push_back(std::move(c));
  }
  r["choices"] = std::move(choices);
  r["usage"] = usage();
  return r;
}

}  // namespace fp4::server
