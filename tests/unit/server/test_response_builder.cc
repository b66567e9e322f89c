// Engine updates → OpenAI bodies and stream chunks.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>

#include "fp4/server/response_builder.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

std::string fake_token_text(int32_t id) { return fmt::format("t{}", id); }

runtime::TokenOutput token(int32_t id, float lp, std::string text) {
  runtime::TokenOutput t;
  t.token = id;
  t.logprob = lp;
  t.text = std::move(text);
  t.top = {{id, lp}, {id + 1, lp - 1.0f}};
  return t;
}

TaggedUpdate update(size_t prompt, int index, std::string text, std::string reasoning,
                    std::vector<runtime::TokenOutput> tokens, int64_t completion_tokens, bool finish) {
  TaggedUpdate t;
  t.prompt_index = prompt;
  t.update.prompt_tokens = 4;
  t.update.cached_prompt_tokens = 0;
  t.update.completion_tokens = completion_tokens;
  runtime::CompletionDelta d;
  d.index = index;
  d.text = std::move(text);
  d.reasoning = std::move(reasoning);
  d.tokens = std::move(tokens);
  if (finish) {
    d.finish = runtime::FinishReason::kStop;
    d.stop_reason = "\n\n";
  }
  t.update.deltas.push_back(std::move(d));
  t.update.finished = finish;
  return t;
}

ResponseBuilder::Options chat_options(bool logprobs) {
  ResponseBuilder::Options o;
  o.kind = ApiKind::kChat;
  o.id = "chatcmpl-1";
  o.model = "tiny";
  o.created = 1700000000;
  o.logprobs = logprobs;
  return o;
}

TEST(ResponseBuilder, ChatBodySplitsReasoningAndCountsUsage) {
  ResponseBuilder b(chat_options(false), fake_token_text);
  EXPECT_TRUE(b.apply(update(0, 0, "", "think", {}, 1, false), false).empty());
  b.apply(update(0, 0, "Answer", "", {}, 3, true), false);
  ASSERT_TRUE(b.all_finished());
  const ordered_json r = b.final_response();
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"]["content"], "Answer");
  EXPECT_EQ(r["choices"][0]["message"]["reasoning_content"], "think");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(r["choices"][0]["stop_reason"], "\n\n");
  EXPECT_EQ(r["usage"]["prompt_tokens"], 4);
  EXPECT_EQ(r["usage"]["completion_tokens"], 3);
  EXPECT_EQ(r["usage"]["total_tokens"], 7);
}

TEST(ResponseBuilder, ChatChunksCarryDeltasLogprobsAndFinish) {
  ResponseBuilder b(chat_options(true), fake_token_text);
  const auto roles = b.role_chunks();
  ASSERT_EQ(roles.size(), 1u);
  EXPECT_EQ(roles[0]["choices"][0]["delta"]["role"], "assistant");
  auto chunks = b.apply(update(0, 0, "Hi", "", {token(7, -0.5f, "Hi")}, 1, false), true);
  ASSERT_EQ(chunks.size(), 1u);
  const ordered_json& c = chunks[0]["choices"][0];
  EXPECT_EQ(chunks[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(c["delta"]["content"], "Hi");
  EXPECT_FALSE(c["delta"].contains("reasoning_content"));
  EXPECT_EQ(c["logprobs"]["content"][0]["token"], "t7");
  EXPECT_EQ(c["logprobs"]["content"][0]["logprob"], -0.5);
  EXPECT_EQ(c["logprobs"]["content"][0]["top_logprobs"][1]["token"], "t8");
  EXPECT_TRUE(c["finish_reason"].is_null());
  chunks = b.apply(update(0, 0, "", "", {}, 1, true), true);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0]["choices"][0]["finish_reason"], "stop");
  const ordered_json usage = b.usage_chunk();
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 1);
}

TEST(ResponseBuilder, CompletionPromptListsIndexChoicesByPromptThenN) {
  ResponseBuilder::Options o;
  o.kind = ApiKind::kCompletion;
  o.id = "cmpl-1";
  o.model = "tiny";
  o.n = 2;
  o.prompts = 2;
  o.logprobs = true;
  ResponseBuilder b(o, fake_token_text);
  b.apply(update(1, 1, "ab", "", {token(3, -1.0f, "a"), token(4, -2.0f, "b")}, 2, false), false);
  EXPECT_FALSE(b.all_finished());
  b.apply(update(0, 0, "", "", {}, 0, true), false);
  b.apply(update(1, 0, "", "", {}, 2, true), false);
  ASSERT_TRUE(b.all_finished());
  const ordered_json r = b.final_response();
  ASSERT_EQ(r["choices"].size(), 4u);
  EXPECT_EQ(r["choices"][3]["index"], 3);
  EXPECT_EQ(r["choices"][3]["text"], "ab");
  EXPECT_EQ(r["choices"][3]["logprobs"]["tokens"], ordered_json({"t3", "t4"}));
  EXPECT_EQ(r["choices"][3]["logprobs"]["text_offset"], ordered_json({0, 1}));
  EXPECT_EQ(r["choices"][3]["logprobs"]["top_logprobs"][0]["t4"], -2.0);
  EXPECT_EQ(r["usage"]["prompt_tokens"], 8);
}

TEST(ResponseBuilder, NegativeInfinityLogprobIsWrittenAsMinus9999) {
  EXPECT_EQ(json_logprob(-INFINITY), -9999.0);
  EXPECT_EQ(json_logprob(NAN), -9999.0);
  EXPECT_EQ(json_logprob(-0.25f), -0.25);
}

}  // namespace
}  // namespace fp4::server
