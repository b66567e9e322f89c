// Request parameters: generation_config defaults overlaid by the request, and one clear error per bad field.
#include <gtest/gtest.h>

#include <string>

#include "fp4/base/error.h"
#include "fp4/io/generation_config.h"
#include "fp4/runtime/sampling_params.h"

namespace fp4::runtime::sampling {
namespace {

// The message of the fp4::Error that fn throws, or "" when it does not throw.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SamplingParams, GenerationConfigDefaultsAreOverlaidByTheRequest) {
  const auto config = io::parse_generation_config(
      R"({"do_sample": true, "temperature": 0.6, "top_p": 0.95, "bos_token_id": 0, "eos_token_id": 1})",
      "generation_config.json");
  const SamplingParams defaults = model_defaults(config);
  EXPECT_DOUBLE_EQ(defaults.temperature, 0.6);
  EXPECT_DOUBLE_EQ(defaults.top_p, 0.95);
  EXPECT_EQ(defaults.top_k, 0);
  EXPECT_DOUBLE_EQ(defaults.repetition_penalty, 1.0);
  EXPECT_FALSE(defaults.max_tokens.has_value());

  SamplingRequest r;
  r.temperature = 0.0;
  r.max_tokens = 32;
  r.stop = std::vector<std::string>{"\n\n"};
  r.stop_token_ids = std::vector<int64_t>{5};
  r.logprobs = true;
  r.top_logprobs = 3;
  r.seed = 11;
  const SamplingParams p = resolve(defaults, r, 100);
  EXPECT_DOUBLE_EQ(p.temperature, 0.0);
  EXPECT_TRUE(p.greedy());
  EXPECT_DOUBLE_EQ(p.top_p, 0.95);  // not in the request: the model's default stays
  EXPECT_EQ(p.max_tokens, 32);
  EXPECT_EQ(p.stop.size(), 1u);
  EXPECT_EQ(p.stop_token_ids, std::vector<int32_t>{5});
  EXPECT_EQ(p.top_logprobs, 3);
  EXPECT_EQ(p.seed, 11);
}

TEST(SamplingParams, BuiltInDefaultsWithoutAConfig) {
  const SamplingParams p = model_defaults(io::GenerationConfig{});
  EXPECT_DOUBLE_EQ(p.temperature, 1.0);
  EXPECT_DOUBLE_EQ(p.top_p, 1.0);
  EXPECT_DOUBLE_EQ(p.min_p, 0.0);
  EXPECT_EQ(p.n, 1);
  EXPECT_FALSE(p.greedy());
  EXPECT_FALSE(p.has_penalties());
}

TEST(SamplingParams, EachOutOfRangeValueNamesItsFieldAndRange) {
  const SamplingParams d;
  struct Case {
    SamplingRequest request;
    std::string expected;
  };
  std::vector<Case> cases(18);
  cases[0].request.temperature = -0.1;
  cases[0].expected = "\"temperature\" is -0.1, expected a finite value >= 0";
  cases[1].request.temperature = std::numeric_limits<double>::quiet_NaN();
  cases[1].expected = "\"temperature\" is nan";
  cases[2].request.top_k = -2;
  cases[2].expected = "\"top_k\" is -2, expected -1 or 0 (off) or a positive integer";
  cases[3].request.top_p = 0.0;
  cases[3].expected = "\"top_p\" is 0, expected a value in (0, 1]";
  cases[4].request.top_p = 1.5;
  cases[4].expected = "\"top_p\" is 1.5, expected a value in (0, 1]";
  cases[5].request.min_p = 1.01;
  cases[5].expected = "\"min_p\" is 1.01, expected a value in [0, 1]";
  cases[6].request.repetition_penalty = 0.0;
  cases[6].expected = "\"repetition_penalty\" is 0, expected a finite value > 0";
  cases[7].request.presence_penalty = 2.5;
  cases[7].expected = "\"presence_penalty\" is 2.5, expected a value in [-2, 2]";
  cases[8].request.frequency_penalty = -3.0;
  cases[8].expected = "\"frequency_penalty\" is -3, expected a value in [-2, 2]";
  cases[9].request.max_tokens = 0;
  cases[9].expected = "\"max_tokens\" is 0, expected an integer >= 1";
  cases[10].request.top_logprobs = 21;
  cases[10].expected = "\"top_logprobs\" is 21, expected an integer in [0, 20]";
  cases[11].request.top_logprobs = 2;  // without logprobs
  cases[11].expected = "\"top_logprobs\" is 2, expected 0 unless \"logprobs\" is true";
  cases[12].request.n = 0;
  cases[12].expected = "\"n\" is 0, expected an integer in [1, 128]";
  cases[13].request.n = (int64_t{1} << 32) + 1;  // must not wrap to 1
  cases[13].expected = "\"n\" is 4294967297, expected an integer in [1, 128]";
  cases[14].request.stop = std::vector<std::string>{"ok", ""};
  cases[14].expected = "\"stop\" is a list holding an empty string, expected non-empty strings";
  cases[15].request.stop_token_ids = std::vector<int64_t>{-1};
  cases[15].expected = "\"stop_token_ids\" is -1, expected token ids >= 0";
  cases[16].request.stop_token_ids = std::vector<int64_t>{100};
  cases[16].expected = "\"stop_token_ids\" is a list holding 100, expected ids in [0, 100)";
  cases[17].request.max_reasoning_tokens = -5;
  cases[17].expected = "\"max_reasoning_tokens\" is -5, expected an integer >= 0";
  for (const Case& c : cases) {
    const std::string message = error_of([&] { resolve(d, c.request, 100); });
    EXPECT_NE(message.find(c.expected), std::string::npos) << "got: " << message << "\nwanted: " << c.expected;
    EXPECT_EQ(message.rfind("sampling: ", 0), 0u) << message;
  }
}

TEST(SamplingParams, TooManyOrTooLongStopStrings) {
  SamplingRequest r;
  r.stop = std::vector<std::string>(33, "x");
  EXPECT_NE(error_of([&] { resolve(SamplingParams{}, r); }).find("at most 32 strings"), std::string::npos);
  r.stop = std::vector<std::string>{std::string(257, 'x')};
  EXPECT_NE(error_of([&] { resolve(SamplingParams{}, r); }).find("at most 256 bytes"), std::string::npos);
}

TEST(SamplingParams, BoundaryValuesAreAccepted) {
  SamplingRequest r;
  r.temperature = 0.0;
  r.top_k = -1;
  r.top_p = 1.0;
  r.min_p = 1.0;
  r.presence_penalty = -2.0;
  r.frequency_penalty = 2.0;
  r.max_tokens = 1;
  r.logprobs = true;
  r.top_logprobs = 20;
  r.n = 128;
  r.max_reasoning_tokens = 0;
  EXPECT_NO_THROW(resolve(SamplingParams{}, r, 10));
}

TEST(SamplingParams, DrawnSeedsAreNonNegative) {
  for (int i = 0; i < 100; ++i) EXPECT_GE(draw_seed(), 0);
}

}  // namespace
}  // namespace fp4::runtime::sampling
