// Error bodies, SSE framing, the API-key comparison and the CORS policy.
#include <gtest/gtest.h>

#include "fp4/server/http_error.h"
#include "fp4/server/http_policy.h"
#include "fp4/server/sse.h"

namespace fp4::server {
namespace {

using nlohmann::ordered_json;

TEST(ErrorBody, HasTheOpenAiShape) {
  const ordered_json body = error_body(HttpError(404, "model 'x' not found", "model", "model_not_found"));
  ASSERT_TRUE(body.contains("error"));
  const ordered_json& e = body["error"];
  EXPECT_EQ(e["message"], "model 'x' not found");
  EXPECT_EQ(e["type"], "invalid_request_error");
  EXPECT_EQ(e["param"], "model");
  EXPECT_EQ(e["code"], "model_not_found");
  const ordered_json plain = error_body(500, "boom");
  EXPECT_EQ(plain["error"]["type"], "server_error");
  EXPECT_TRUE(plain["error"]["param"].is_null());
  EXPECT_TRUE(plain["error"]["code"].is_null());
  EXPECT_EQ(error_type_for_status(401), "authentication_error");
  EXPECT_EQ(error_type_for_status(429), "rate_limit_error");
}

TEST(ErrorBody, RejectFieldQuotesTheFieldAndSetsParam) {
  try {
    reject_field("top_k", "expected an integer");
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(std::string(e.what()), "\"top_k\": expected an integer");
    EXPECT_EQ(e.param(), std::optional<std::string>("top_k"));
  }
  EXPECT_EQ(field_named_in("sampling: \"min_p\" is 2, expected a value in [0, 1]"), std::optional<std::string>("min_p"));
  EXPECT_FALSE(field_named_in("no field here"));
}

TEST(Sse, EventsAreSingleDataLinesEndedByABlankLine) {
  ordered_json payload;
  payload["text"] = "line one\nline two";
  payload["n"] = 1;
  const std::string event = sse_event(payload);
  EXPECT_EQ(event, "data: {\"text\":\"line one\\nline two\",\"n\":1}\n\n");
  EXPECT_EQ(event.find('\n'), event.size() - 2);  // the only raw newlines end the event
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  EXPECT_EQ(sse_comment("keep\nalive"), ": keepalive\n\n");
}

TEST(Sse, InvalidUtf8IsReplacedInsteadOfThrowing) {
  ordered_json payload;
  payload["text"] = std::string("a\xff") + "b";
  EXPECT_EQ(sse_event(payload), "data: {\"text\":\"a\xef\xbf\xbd" "b\"}\n\n");
}

TEST(Auth, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equals("secret-key", "secret-key"));
  EXPECT_FALSE(constant_time_equals("secret-key", "secret-kez"));
  EXPECT_FALSE(constant_time_equals("secret-key", "secret-key2"));
  EXPECT_FALSE(constant_time_equals("secret-key", "secret"));
  EXPECT_FALSE(constant_time_equals("secret-key", ""));
  EXPECT_TRUE(constant_time_equals("", ""));
}

TEST(Auth, BearerTokenParsing) {
  EXPECT_EQ(bearer_token("Bearer abc"), std::optional<std::string_view>("abc"));
  EXPECT_EQ(bearer_token("bearer   abc  "), std::optional<std::string_view>("abc"));
  EXPECT_FALSE(bearer_token("Basic abc"));
  EXPECT_FALSE(bearer_token("Bearer"));
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token("Bearerabc"));
  EXPECT_TRUE(path_exempt_from_auth("/health"));
  EXPECT_TRUE(path_exempt_from_auth("/"));
  EXPECT_FALSE(path_exempt_from_auth("/v1/models"));
  EXPECT_FALSE(path_exempt_from_auth("/metrics"));
}

TEST(Cors, OffByDefaultAndAllowListedOriginsOnly) {
  EXPECT_FALSE(CorsPolicy().enabled());
  EXPECT_FALSE(CorsPolicy().allow_origin_header("https://a.example"));
  const CorsPolicy p = CorsPolicy::parse("https://a.example, http://localhost:3000");
  EXPECT_TRUE(p.enabled());
  EXPECT_EQ(p.allow_origin_header("https://a.example"), std::optional<std::string>("https://a.example"));
  EXPECT_EQ(p.allow_origin_header("http://localhost:3000"), std::optional<std::string>("http://localhost:3000"));
  EXPECT_FALSE(p.allow_origin_header("https://evil.example"));
  EXPECT_FALSE(p.allow_origin_header(""));
  EXPECT_EQ(CorsPolicy::parse("*").allow_origin_header("https://x.example"), std::optional<std::string>("*"));
  EXPECT_THROW(CorsPolicy::parse("a.example"), Error);
  EXPECT_THROW(CorsPolicy::parse("https://a.example/path"), Error);
}

}  // namespace
}  // namespace fp4::server
