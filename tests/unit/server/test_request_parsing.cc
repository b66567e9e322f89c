// Request bodies → parsed requests: types, shapes, unsupported features and the unknown-field policy.
#include <gtest/gtest.h>

#include "fp4/runtime/sampling_params.h"
#include "fp4/server/http_error.h"
#include "fp4/server/json_body.h"
#include "fp4/server/request_parsing.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

// The HttpError a parse raises (status and param), or a failure when it does not raise.
template <typename Fn>
HttpError error_of(Fn&& fn) {
  try {
    fn();
  } catch (const HttpError& e) {
    return e;
  }
  ADD_FAILURE() << "expected an HttpError";
  return HttpError(0, "none");
}

ChatRequest chat(std::string_view body, bool strict = false) {
  return parse_chat_request(parse_json_body(body), ParsePolicy{strict});
}
CompletionRequest completion(std::string_view body) { return parse_completion_request(parse_json_body(body), {}); }

TEST(ParseJsonBody, RejectsNonObjectsBadJsonAndEmptyBodies) {
  EXPECT_EQ(error_of([] { parse_json_body(""); }).status(), 400);
  const HttpError e = error_of([] { parse_json_body("{\"a\": "); });
  EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  EXPECT_NE(std::string(error_of([] { parse_json_body("[1,2]"); }).what()).find("got a list"), std::string::npos);
}

TEST(ParseJsonBody, RejectsInvalidUtf8WithItsOffset) {
  const std::string body = "{\"prompt\": \"ab\xff\"}";
  const HttpError e = error_of([&] { parse_json_body(body); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_NE(std::string(e.what()).find("byte offset 14"), std::string::npos) << e.what();
}

TEST(ParseJsonBody, RejectsDeepNestingBeforeParsing) {
  const std::string deep = "{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  const HttpError e = error_of([&] { parse_json_body(deep); });
  EXPECT_NE(std::string(e.what()).find("deeper than 64"), std::string::npos) << e.what();
  // Brackets inside strings do not count.
  EXPECT_NO_THROW(parse_json_body("{\"a\": \"" + std::string(1000, '[') + "\"}"));
}

TEST(FirstInvalidUtf8, FindsOverlongSurrogateAndTruncatedSequences) {
  EXPECT_FALSE(first_invalid_utf8("plain ascii, é, 中, 😀"));
  EXPECT_EQ(first_invalid_utf8("a\xc0\xaf"), 1u);         // overlong "/"
  EXPECT_EQ(first_invalid_utf8("ab\xed\xa0\x80"), 2u);     // UTF-16 surrogate U+D800
  EXPECT_EQ(first_invalid_utf8("\xf4\x90\x80\x80"), 0u);   // U+110000
  EXPECT_EQ(first_invalid_utf8("abc\xe4\xb8"), 3u);        // truncated
  EXPECT_EQ(first_invalid_utf8("\x80"), 0u);               // lone continuation byte
}

TEST(ChatRequest, ReadsMessagesSamplingAndStreamOptions) {
  const ChatRequest r = chat(R"({"model": "m", "messages": [{"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
      "temperature": 0, "top_p": 0.5, "top_k": 5, "min_p": 0.1, "seed": 7, "stop": "END", "n": 2,
      "max_tokens": 10, "max_completion_tokens": 20, "logprobs": true, "top_logprobs": 3,
      "stream": true, "stream_options": {"include_usage": true}, "user": "u1", "max_reasoning_tokens": 4})");
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1]["content"], "a\nb");
  EXPECT_EQ(r.sampling.temperature, 0.0);
  EXPECT_EQ(r.sampling.top_k, 5);
  EXPECT_EQ(r.sampling.seed, 7);
  EXPECT_EQ(r.sampling.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.sampling.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_EQ(r.sampling.top_logprobs, 3);
  EXPECT_EQ(r.sampling.max_reasoning_tokens, 4);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.ignored_fields.empty());
}

TEST(ChatRequest, NullMeansUnset) {
  const ChatRequest r = chat(R"({"messages": [{"role": "user", "content": "hi"}], "temperature": null, "stop": null})");
  EXPECT_FALSE(r.sampling.temperature);
  EXPECT_FALSE(r.sampling.stop);
}

TEST(ChatRequest, WrongTypesNameTheField) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"messages": "hi"})", "messages"},
      {R"({"messages": []})", "messages"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "user"}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", "messages[0].content[0].type"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 1e300})", "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "seed": 18446744073709551615})", "seed"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": [1]})", "stop[0]"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop_token_ids": ["a"]})", "stop_token_ids[0]"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}})",
       "stream_options"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"5": 1}})", "logit_bias"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})",
       "response_format"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})", "tool_choice"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": {}})", "tools"},
      {R"({"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": []})", "chat_template_kwargs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "model": 3})", "model"},
  };
  for (const Case& c : cases) {
    const HttpError e = error_of([&] { chat(c.body); });
    EXPECT_EQ(e.status(), 400) << c.body;
    EXPECT_EQ(e.param(), std::optional<std::string>(c.param)) << c.body << " -> " << e.what();
  }
}

TEST(ChatRequest, UnknownFieldsAreIgnoredOrRejectedByPolicy) {
  const char* body = R"({"messages": [{"role": "user", "content": "x"}], "frobnicate": 1, "zeta": true})";
  EXPECT_EQ(chat(body).ignored_fields, (std::vector<std::string>{"frobnicate", "zeta"}));
  const HttpError e = error_of([&] { chat(body, /*strict=*/true); });
  EXPECT_EQ(e.param(), std::optional<std::string>("frobnicate"));
}

TEST(ChatRequest, DeveloperRoleIsTheSystemRoleAndAssistantContentMayBeNull) {
  const ChatRequest r = chat(R"({"messages": [{"role": "developer", "content": "rules"},
      {"role": "user", "content": "q"}, {"role": "assistant", "content": null}, {"role": "user", "content": "q2"}]})");
  EXPECT_EQ(r.messages[0]["role"], "system");
  EXPECT_TRUE(r.messages[2]["content"].is_null());
}

TEST(CompletionRequest, AcceptsEveryPromptShape) {
  EXPECT_EQ(completion(R"({"prompt": "hello"})").prompts[0].text, "hello");
  const CompletionRequest list = completion(R"({"prompt": ["a", "b"], "logprobs": 2})");
  ASSERT_EQ(list.prompts.size(), 2u);
  EXPECT_EQ(list.prompts[1].text, "b");
  EXPECT_EQ(list.sampling.logprobs, true);
  EXPECT_EQ(list.sampling.top_logprobs, 2);
  EXPECT_EQ(completion(R"({"prompt": [5, 6, 7]})").prompts[0].ids, (std::vector<int32_t>{5, 6, 7}));
  const CompletionRequest nested = completion(R"({"prompt": [[1], [2, 3]]})");
  ASSERT_EQ(nested.prompts.size(), 2u);
  EXPECT_EQ(nested.prompts[1].ids, (std::vector<int32_t>{2, 3}));
}

TEST(CompletionRequest, RejectsBadPromptsAndUnsupportedOptions) {
  const char* bodies[] = {
      R"({})",
      R"({"prompt": 5})",
      R"({"prompt": []})",
      R"({"prompt": [[]]})",
      R"({"prompt": [1, -2]})",
      R"({"prompt": [1, "a"]})",
      R"({"prompt": [{"a": 1}]})",
      R"({"prompt": "x", "echo": true})",
      R"({"prompt": "x", "suffix": "y"})",
      R"({"prompt": "x", "best_of": 3})",
      R"({"prompt": "x", "logprobs": 21})",
      R"({"prompt": "x", "logprobs": true})",
  };
  for (const char* body : bodies) {
    EXPECT_EQ(error_of([&] { completion(body); }).status(), 400) << body;
  }
  std::string many = R"({"prompt": [)";
  for (size_t i = 0; i <= kMaxPromptsPerRequest; ++i) many += (i ? ",\"p\"" : "\"p\"");
  many += "]}";
  EXPECT_EQ(error_of([&] { completion(many); }).param(), std::optional<std::string>("prompt"));
}

TEST(GenerateRequest, AppliesTheSimpleApiDefaults) {
  const GenerateRequest r = parse_generate_request(parse_json_body(R"({"prompt": "Once"})"), {});
  EXPECT_EQ(r.prompt, "Once");
  EXPECT_EQ(r.sampling.max_tokens, 512);
  EXPECT_EQ(r.sampling.temperature, 0.6);
  EXPECT_EQ(r.sampling.top_p, 0.9);
  EXPECT_EQ(r.sampling.repetition_penalty, 1.1);
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(error_of([] { parse_generate_request(parse_json_body(R"({"prompt": 1})"), {}); }).param(),
            std::optional<std::string>("prompt"));
}

TEST(GenerateRequest, ReadsIgnoreEosAndRejectsAWrongType) {
  const GenerateRequest r = parse_generate_request(parse_json_body(R"({"prompt": "x", "ignore_eos": true})"), {});
  EXPECT_EQ(r.sampling.ignore_eos, std::optional<bool>(true));
  EXPECT_TRUE(r.ignored_fields.empty());
  EXPECT_EQ(error_of([] { parse_generate_request(parse_json_body(R"({"prompt": "x", "ignore_eos": 1})"), {}); })
                .param(),
            std::optional<std::string>("ignore_eos"));
}

TEST(SamplingRanges, ResolveNamesTheFieldThatTheServerReportsAsParam) {
  const ChatRequest r = chat(R"({"messages": [{"role": "user", "content": "x"}], "top_p": 1.5})");
  try {
    runtime::sampling::resolve(runtime::sampling::SamplingParams{}, r.sampling);
    FAIL() << "top_p 1.5 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(field_named_in(e.what()), std::optional<std::string>("top_p")) << e.what();
  }
}

}  // namespace
}  // namespace fp4::server
