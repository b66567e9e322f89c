#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "unit/apps/scripted_generator.h"
#include "fp4/apps/app_routes.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

using nlohmann::json;

// The error message handle_app_request throws for `body` on `path` (empty when it does not throw).
std::string error_for(std::string_view path, const json& body) {
  testing::ScriptedGenerator gen;
  gen.add("unused");
  try {
    handle_app_request(path, body, gen);
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

TEST(AppRoutes, UnknownPathIsNotHandled) {
  testing::ScriptedGenerator gen;
  EXPECT_FALSE(handle_app_request("/v1/apps/math/unknown", json::object(), gen).has_value());
  EXPECT_FALSE(handle_app_request("/v1/chat/completions", json::object(), gen).has_value());
  EXPECT_TRUE(gen.requests().empty());
  EXPECT_EQ(app_request_paths().size(), 5u);
}

TEST(AppRoutes, ValidationErrorsNameTheField) {
  EXPECT_EQ(error_for("/v1/apps/math/solve", json::array()),
            "/v1/apps/math/solve: the body must be a JSON object, got an array");
  EXPECT_EQ(error_for("/v1/apps/math/solve", json::object()), "/v1/apps/math/solve: \"problem\" is required");
  EXPECT_EQ(error_for("/v1/apps/math/solve", {{"problem", 5}}),
            "/v1/apps/math/solve: \"problem\" must be a string, got a number");
  EXPECT_EQ(error_for("/v1/apps/math/solve", {{"problem", "  "}}), "/v1/apps/math/solve: \"problem\" is empty");
  EXPECT_EQ(error_for("/v1/apps/math/solve", {{"problem", "1+1"}, {"language", "fr"}}),
            "/v1/apps/math/solve: \"language\" is \"fr\", expected \"auto\", \"en\" or \"ko\"");
  EXPECT_EQ(error_for("/v1/apps/math/solve", {{"problem", "1+1"}, {"temperature", "hot"}}),
            "/v1/apps/math/solve: \"temperature\" must be a number, got a string");
  EXPECT_EQ(error_for("/v1/apps/math/solve", {{"problem", "1+1"}, {"max_tokens", 1.5}}),
            "/v1/apps/math/solve: \"max_tokens\" must be an integer, got 1.5");
  EXPECT_EQ(error_for("/v1/apps/math/solve", {{"problem", "1+1"}, {"max_tokens", 0}}),
            "/v1/apps/math/solve: \"max_tokens\" is 0, expected at least 1");
  EXPECT_EQ(error_for("/v1/apps/math/solve", {{"problem", "1+1"}, {"model", 3}}),
            "/v1/apps/math/solve: \"model\" must be a string");
  const std::string unknown = error_for("/v1/apps/math/solve", {{"problem", "1+1"}, {"temprature", 0}});
  EXPECT_EQ(unknown.rfind("/v1/apps/math/solve: unknown field \"temprature\" (accepted: problem, language, model, "
                          "temperature",
                          0),
            0u)
      << unknown;
  EXPECT_EQ(error_for("/v1/apps/code/generate", {{"task", "x"}, {"language", ""}}),
            "/v1/apps/code/generate: \"language\" is empty");
  EXPECT_EQ(error_for("/v1/apps/code/review", {{"code", "x"}, {"focus", {"security", 7}}}),
            "/v1/apps/code/review: \"focus[1]\" must be a string, got a number");
  EXPECT_EQ(error_for("/v1/apps/code/review", {{"code", "x"}, {"focus", {"security", "vibes"}}}),
            "/v1/apps/code/review: \"focus[1]\" is \"vibes\", expected one of correctness, security, performance, "
            "style, readability, maintainability, error_handling, concurrency, testing");
  EXPECT_EQ(error_for("/v1/apps/tutor/explain", {{"concept", "x"}, {"level", "guru"}}),
            "/v1/apps/tutor/explain: \"level\" is \"guru\", expected \"beginner\", \"intermediate\" or \"advanced\"");
  EXPECT_EQ(error_for("/v1/apps/tutor/problems", {{"topic", "x"}, {"count", 50}}),
            "/v1/apps/tutor/problems: \"count\" is 50, expected an integer in [1, 10]");
  EXPECT_EQ(error_for("/v1/apps/tutor/problems", {{"topic", "x"}, {"count", "3"}}),
            "/v1/apps/tutor/problems: \"count\" must be an integer, got \"3\"");
}

TEST(AppRoutes, MathSolveResponse) {
  testing::ScriptedGenerator gen;
  gen.add("따라서 답은 \\boxed{5}입니다.", "2x = 10, x = 5");
  const json body = {{"problem", "2x + 5 = 15를 풀어주세요"}, {"temperature", 0}, {"max_tokens", 64},
                     {"seed", 7},  {"model", "anything"}};
  const auto out = handle_app_request("/v1/apps/math/solve", body, gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ((*out)["object"], "app.math.solution");
  EXPECT_EQ((*out)["model"], "scripted");
  EXPECT_EQ((*out)["language"], "ko");
  EXPECT_EQ((*out)["final_answer"], "5");
  EXPECT_EQ((*out)["has_boxed_answer"], true);
  EXPECT_EQ((*out)["reasoning"], "2x = 10, x = 5");
  EXPECT_EQ((*out)["full_solution"], "따라서 답은 \\boxed{5}입니다.");
  EXPECT_EQ((*out)["usage"]["total_tokens"], 18);
  const auto& sampling = gen.requests().back().sampling;
  EXPECT_EQ(sampling.temperature, 0.0);
  EXPECT_EQ(sampling.max_tokens, 64);
  EXPECT_EQ(sampling.seed, 7);
  EXPECT_FALSE(sampling.top_p.has_value());
}

TEST(AppRoutes, CodeGenerateAndReviewResponses) {
  testing::ScriptedGenerator gen;
  gen.add("```python\nprint(1)\n```");
  auto out = handle_app_request("/v1/apps/code/generate", {{"task", "print one"}}, gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ((*out)["language"], "python");  // the default
  EXPECT_EQ((*out)["code"], "print(1)");
  ASSERT_EQ((*out)["blocks"].size(), 1u);
  EXPECT_EQ((*out)["blocks"][0]["terminated"], true);

  gen.add("Summary: ok.\nIssues:\n1. [medium] (security) line 2: eval of input. Suggestion: parse it.\n- a nit\n");
  out = handle_app_request("/v1/apps/code/review",
                           {{"code", "x = input()\neval(x)"}, {"language", "py"}, {"focus", "security, Performance"}},
                           gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ((*out)["language"], "python");
  EXPECT_EQ((*out)["focus"], json({"security", "performance"}));
  EXPECT_EQ((*out)["summary"], "ok.");
  EXPECT_EQ((*out)["issues_parsed"], true);
  ASSERT_EQ((*out)["issues"].size(), 2u);
  EXPECT_EQ((*out)["issues"][0]["severity"], "medium");
  EXPECT_EQ((*out)["issues"][0]["line"], 2);
  EXPECT_TRUE((*out)["issues"][1]["severity"].is_null());
  EXPECT_TRUE((*out)["issues"][1]["line"].is_null());
  EXPECT_EQ((*out)["issues"][1]["description"], "a nit");
}

TEST(AppRoutes, TutorResponses) {
  testing::ScriptedGenerator gen;
  gen.add("Fractions are parts of a whole.");
  auto out = handle_app_request("/v1/apps/tutor/explain", {{"concept", "fractions"}, {"level", "beginner"}}, gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ((*out)["level"], "beginner");
  EXPECT_EQ((*out)["language"], "en");
  EXPECT_EQ((*out)["explanation"], "Fractions are parts of a whole.");

  gen.add("문제 1: 1/2 + 1/4는?\n풀이: 2/4 + 1/4 = 3/4\n답: \\boxed{\\frac{3}{4}}");
  out = handle_app_request("/v1/apps/tutor/problems", {{"topic", "분수의 덧셈"}, {"count", 1.0}}, gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ((*out)["language"], "ko");
  EXPECT_EQ(gen.last_user_message().rfind("\"분수의 덧셈\"에 대한 연습 문제 1개를", 0), 0u) << gen.last_user_message();
  EXPECT_EQ((*out)["requested"], 1);
  ASSERT_EQ((*out)["problems"].size(), 1u);
  EXPECT_EQ((*out)["problems"][0]["problem"], "1/2 + 1/4는?");
  EXPECT_EQ((*out)["problems"][0]["solution"], "2/4 + 1/4 = 3/4");
  EXPECT_EQ((*out)["problems"][0]["answer"], "\\frac{3}{4}");
}

TEST(AppRoutes, GeneratorErrorsPropagate) {
  testing::ScriptedGenerator gen;  // no scripted reply: generate() throws
  EXPECT_THROW(handle_app_request("/v1/apps/math/solve", {{"problem", "1+1"}}, gen), Error);
}

}  // namespace
}  // namespace fp4::apps
