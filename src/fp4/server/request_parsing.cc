#include "fp4/server/request_parsing.h"

#include <fmt/ranges.h>

#include <limits>

#include "fp4/server/http_error.h"
#include "fp4/server/json_body.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

// Sampling fields shared by the OpenAI endpoints (names as OpenAI and vLLM spell them).
void read_sampling(FieldReader& f, runtime::sampling::SamplingRequest& s) {
  s.temperature = f.number("temperature");
  s.top_p = f.number("top_p");
  s.top_k = f.integer("top_k");
  s.min_p = f.number("min_p");
  s.repetition_penalty = f.number("repetition_penalty");
  s.presence_penalty = f.number("presence_penalty");
  s.frequency_penalty = f.number("frequency_penalty");
  s.seed = f.integer("seed");
  s.stop = f.string_or_list("stop");
  s.stop_token_ids = f.integer_list("stop_token_ids");
  s.include_stop_str_in_output = f.boolean("include_stop_str_in_output");
  s.ignore_eos = f.boolean("ignore_eos");
  s.max_reasoning_tokens = f.integer("max_reasoning_tokens");
  s.n = f.integer("n");
  // max_completion_tokens is OpenAI's current name; max_tokens the older one. Both are accepted; the
  // newer wins when both are sent.
  const auto max_tokens = f.integer("max_tokens");
  const auto max_completion_tokens = f.integer("max_completion_tokens");
  s.max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
}

void read_stream(FieldReader& f, CommonRequest& r) {
  r.stream = f.boolean("stream").value_or(false);
  if (const ordered_json* opts = f.raw("stream_options")) {
    if (!opts->is_object()) reject_field("stream_options", "expected an object, got " + json_type_phrase(*opts));
    if (!r.stream) reject_field("stream_options", "is only allowed when \"stream\" is true");
    FieldReader o(*opts, "stream_options");
    r.include_usage = o.boolean("include_usage").value_or(false);
    r.continuous_usage_stats = o.boolean("continuous_usage_stats").value_or(false);
    if (auto extra = o.unknown(); !extra.empty()) {
      reject_field("stream_options." + extra.front(), "is not a known stream option (include_usage, continuous_usage_stats)");
    }
  }
}

// Known OpenAI/vLLM fields that we do not implement: a 400 unless the value asks for nothing.
void reject_unsupported(FieldReader& f) {
  if (const ordered_json* v = f.raw("logit_bias"); v && !(v->is_object() && v->empty())) {
    reject_field("logit_bias", "is not supported by this server");
  }
  if (const ordered_json* v = f.raw("response_format")) {
    const bool text = v->is_object() && v->contains("type") && (*v)["type"] == "text";
    if (!text) reject_field("response_format", "only {\"type\": \"text\"} is supported (no structured output)");
  }
  for (const char* key : {"prompt_logprobs", "guided_json", "guided_regex", "guided_choice", "guided_grammar",
                          "structured_outputs", "functions", "function_call", "prediction", "audio",
                          "reasoning_effort", "logits_processors", "allowed_token_ids", "bad_words"}) {
    if (f.raw(key)) reject_field(key, "is not supported by this server");
  }
  if (const ordered_json* v = f.raw("use_beam_search"); v && !(v->is_boolean() && !v->get<bool>())) {
    reject_field("use_beam_search", "beam search is not supported by this server");
  }
  if (const ordered_json* v = f.raw("skip_special_tokens"); v && !(v->is_boolean() && v->get<bool>())) {
    reject_field("skip_special_tokens", "only true (the default) is supported");
  }
  if (const ordered_json* v = f.raw("modalities")) {
    const bool text_only = v->is_array() && v->size() == 1 && (*v)[0] == "text";
    if (!text_only) reject_field("modalities", "only [\"text\"] is supported");
  }
  // Accepted, with no effect on generation.
  f.accept({"user", "store", "metadata", "service_tier", "parallel_tool_calls"});
}

void finish_fields(FieldReader& f, CommonRequest& r, const ParsePolicy& policy) {
  r.ignored_fields = f.unknown();
  if (policy.strict_fields && !r.ignored_fields.empty()) {
    reject_field(r.ignored_fields.front(), "is not a known request field (the server runs with strict field checking)");
  }
}

// Message content: a string, null, or a list of {"type": "text", "text": ...} parts (joined with "\n" as
// vLLM does).
ordered_json normalize_content(const ordered_json& content, const std::string& where) {
  if (content.is_string() || content.is_null()) return content;
  if (!content.is_array()) {
    reject_field(where, "expected a string or a list of text parts, got " + json_type_phrase(content));
  }
  std::string joined;
  for (size_t i = 0; i < content.size(); ++i) {
    const ordered_json& part = content[i];
    const std::string at = fmt::format("{}[{}]", where, i);
    if (!part.is_object()) reject_field(at, "expected an object {\"type\": \"text\", \"text\": ...}");
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) reject_field(at + ".type", "expected a string");
    if (*type != "text") {
      reject_field(at + ".type", fmt::format("content parts of type {} are not supported (text only)", type->dump()));
    }
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) reject_field(at + ".text", "expected a string");
    if (i) joined += "\n";
    joined += text->get<std::string>();
  }
  return joined;
}

ordered_json normalize_messages(const ordered_json* messages) {
  if (!messages) reject_field("messages", "is required");
  if (!messages->is_array()) reject_field("messages", "expected a list of messages, got " + json_type_phrase(*messages));
  if (messages->empty()) reject_field("messages", "must hold at least one message");
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < messages->size(); ++i) {
    const ordered_json& m = (*messages)[i];
    const std::string at = fmt::format("messages[{}]", i);
    if (!m.is_object()) reject_field(at, "expected an object with \"role\" and \"content\", got " + json_type_phrase(m));
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) reject_field(at + ".role", "is required and must be a string");
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer") {
      reject_field(at + ".role", fmt::format("\"{}\" is not one of system, developer, user, assistant, tool", r));
    }
    ordered_json copy = m;
    // OpenAI's "developer" role is the system role of older models.
    if (r == "developer") copy["role"] = "system";
    auto content = m.find("content");
    if (content == m.end()) {
      if (r != "assistant") reject_field(at + ".content", "is required");
      copy["content"] = nullptr;
    } else {
      copy["content"] = normalize_content(*content, at + ".content");
      if (copy["content"].is_null() && r != "assistant") reject_field(at + ".content", "must not be null");
    }
    out.push_back(std::move(copy));
  }
  return out;
}

int32_t token_id(const ordered_json& v, const std::string& where) {
  if (!v.is_number_integer()) reject_field(where, "expected a token id (an integer), got " + json_type_phrase(v));
  const int64_t id = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{1} << 40 ? -1 : v.get<int64_t>();
  if (id < 0 || id > std::numeric_limits<int32_t>::max()) reject_field(where, fmt::format("{} is not a token id", v.dump()));
  return static_cast<int32_t>(id);
}

std::vector<int32_t> token_ids(const ordered_json& list, const std::string& where) {
  if (list.empty()) reject_field(where, "a token-id prompt must not be empty");
  std::vector<int32_t> ids;
  ids.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) ids.push_back(token_id(list[i], fmt::format("{}[{}]", where, i)));
  return ids;
}

// "prompt": a string, a list of strings, a list of token ids, or a list of token-id lists.
std::vector<PromptInput> read_prompts(const ordered_json* prompt) {
  if (!prompt) reject_field("prompt", "is required");
  std::vector<PromptInput> out;
  if (prompt->is_string()) {
    out.push_back({prompt->get<std::string>(), {}});
    return out;
  }
  if (!prompt->is_array()) {
    reject_field("prompt", "expected a string, a list of strings or a list of token ids, got " + json_type_phrase(*prompt));
  }
  if (prompt->empty()) reject_field("prompt", "must not be an empty list");
  if ((*prompt)[0].is_number()) {
    out.push_back({std::nullopt, token_ids(*prompt, "prompt")});
    return out;
  }
  if (prompt->size() > kMaxPromptsPerRequest) {
    reject_field("prompt", fmt::format("a list of {} prompts, at most {} per request", prompt->size(), kMaxPromptsPerRequest));
  }
  for (size_t i = 0; i < prompt->size(); ++i) {
    const ordered_json& item = (*prompt)[i];
    const std::string at = fmt::format("prompt[{}]", i);
    if (item.is_string()) {
      out.push_back({item.get<std::string>(), {}});
    } else if (item.is_array()) {
      out.push_back({std::nullopt, token_ids(item, at)});
    } else {
      reject_field(at, "expected a string or a list of token ids, got " + json_type_phrase(item));
    }
  }
  return out;
}

}  // namespace

ChatRequest parse_chat_request(const ordered_json& body, const ParsePolicy& policy) {
  ChatRequest r;
  FieldReader f(body);
  r.model = f.string("model");
  r.messages = normalize_messages(f.raw("messages"));
  read_sampling(f, r.sampling);
  read_stream(f, r);
  // Chat logprobs: "logprobs": bool, "top_logprobs": 0..20 (range checked by sampling::resolve).
  r.sampling.logprobs = f.boolean("logprobs");
  r.sampling.top_logprobs = f.integer("top_logprobs");
  if (const ordered_json* tools = f.raw("tools")) {
    if (!tools->is_array()) reject_field("tools", "expected a list of tools, got " + json_type_phrase(*tools));
    for (size_t i = 0; i < tools->size(); ++i) {
      if (!(*tools)[i].is_object()) reject_field(fmt::format("tools[{}]", i), "expected an object");
    }
    r.tools = *tools;
  }
  if (const ordered_json* choice = f.raw("tool_choice")) {
    // Tools are shown to the model through the chat template; tool calls come back as text in
    // "content". Forcing a call needs a tool-call parser, which this server does not have.
    const bool ok = choice->is_string() && (*choice == "auto" || *choice == "none");
    if (!ok) reject_field("tool_choice", "only \"auto\" and \"none\" are supported (no forced tool calls)");
  }
  if (const ordered_json* kwargs = f.raw("chat_template_kwargs")) {
    if (!kwargs->is_object()) reject_field("chat_template_kwargs", "expected an object, got " + json_type_phrase(*kwargs));
    r.template_kwargs = *kwargs;
  }
  reject_unsupported(f);
  if (const ordered_json* v = f.raw("echo"); v && !(v->is_boolean() && !v->get<bool>())) {
    reject_field("echo", "is not supported by this server");
  }
  finish_fields(f, r, policy);
  return r;
}

CompletionRequest parse_completion_request(const ordered_json& body, const ParsePolicy& policy) {
  CompletionRequest r;
  FieldReader f(body);
  r.model = f.string("model");
  r.prompts = read_prompts(f.raw("prompt"));
  read_sampling(f, r.sampling);
  read_stream(f, r);
  // Completions logprobs: an integer k, the sampled token's logprob plus the k most likely.
  if (auto k = f.integer("logprobs")) {
    if (*k < 0 || *k > runtime::sampling::kMaxTopLogprobs) {
      reject_field("logprobs", fmt::format("{} is out of range, expected an integer in [0, {}]", *k,
                                           runtime::sampling::kMaxTopLogprobs));
    }
    r.sampling.logprobs = true;
    r.sampling.top_logprobs = *k;
  }
  if (const ordered_json* v = f.raw("echo"); v && !(v->is_boolean() && !v->get<bool>())) {
    reject_field("echo", "is not supported by this server");
  }
  if (auto suffix = f.string("suffix"); suffix && !suffix->empty()) reject_field("suffix", "is not supported by this server");
  if (auto best_of = f.integer("best_of")) {
    const int64_t n = r.sampling.n.value_or(1);
    if (*best_of != n) reject_field("best_of", "only best_of equal to n is supported (no server-side ranking)");
  }
  reject_unsupported(f);
  finish_fields(f, r, policy);
  return r;
}

GenerateRequest parse_generate_request(const ordered_json& body, const ParsePolicy& policy) {
  GenerateRequest r;
  FieldReader f(body);
  const ordered_json* prompt = f.raw("prompt");
  if (!prompt) reject_field("prompt", "is required");
  if (!prompt->is_string()) reject_field("prompt", "expected a string, got " + json_type_phrase(*prompt));
  r.prompt = prompt->get<std::string>();
  auto& s = r.sampling;
  s.max_tokens = f.integer("max_tokens").value_or(512);
  s.temperature = f.number("temperature").value_or(0.6);
  s.top_p = f.number("top_p").value_or(0.9);
  s.repetition_penalty = f.number("repetition_penalty").value_or(1.1);
  s.top_k = f.integer("top_k");
  s.seed = f.integer("seed");
  s.stop = f.string_or_list("stop");
  s.ignore_eos = f.boolean("ignore_eos");  // benchmarks and tests want a fixed output length
  r.stream = f.boolean("stream").value_or(false);
  r.model = f.string("model");
  finish_fields(f, r, policy);
  return r;
}

}  // namespace fp4::server
