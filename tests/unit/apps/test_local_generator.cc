// The applications in process on the shipped tiny-r1 model.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fp4/apps/app_routes.h"
#include "fp4/apps/generator_factory.h"
#include "fp4/apps/local_generator.h"
#include "fp4/apps/math_solver.h"
#include "fp4/base/error.h"
#include "fp4/runtime/served_model.h"

namespace fp4::apps {
namespace {

class TinyR1 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    runtime::EngineConfig config;
    config.max_num_seqs = 4;
    served_ = runtime::ServedModel::load(std::string(FP4_SOURCE_DIR) + "/models/tiny-r1", config, 2).release();
  }
  static void TearDownTestSuite() {
    delete served_;
    served_ = nullptr;
  }
  static runtime::ServedModel* served_;
};
runtime::ServedModel* TinyR1::served_ = nullptr;

TEST_F(TinyR1, MathSolverGreedyAdds) {
  LocalGenerator gen(*served_);
  EXPECT_EQ(gen.model_name(), "tiny-r1");
  MathSolveOptions options;
  options.sampling.temperature = 0.0;
  options.sampling.max_tokens = 256;
  const MathSolution s = MathSolver(gen).solve("What is 2 + 3?", options);
  // tiny-r1 answers single-digit additions column by column inside <think>, then one boxed sentence.
  EXPECT_EQ(s.final_answer, "5");
  EXPECT_TRUE(s.has_boxed_answer);
  EXPECT_FALSE(s.answer_from_reasoning);
  EXPECT_EQ(s.full_solution, "The answer is \\boxed{5}.");
  EXPECT_NE(s.reasoning.find("2 + 3 = 5"), std::string::npos) << s.reasoning;
  EXPECT_EQ(s.full_solution.find("<think>"), std::string::npos);
  EXPECT_EQ(s.finish_reason, "stop");
  EXPECT_GT(s.prompt_tokens, 0);
  EXPECT_GT(s.completion_tokens, 0);
}

TEST_F(TinyR1, GreedyIsReproducibleAndMatchesTheRoute) {
  LocalGenerator gen(*served_);
  GenerationRequest r;
  r.messages = {{"user", math_prompt("What is 12 + 30?", PromptLanguage::kEnglish)}};
  r.sampling.temperature = 0.0;
  r.sampling.max_tokens = 200;
  const GenerationResponse a = gen.generate(r);
  const GenerationResponse b = gen.generate(r);
  ASSERT_EQ(a.choices.size(), 1u);
  EXPECT_EQ(a.choices[0].content, b.choices[0].content);
  EXPECT_EQ(a.choices[0].reasoning, b.choices[0].reasoning);
  const auto out = handle_app_request(
      "/v1/apps/math/solve", {{"problem", "What is 12 + 30?"}, {"temperature", 0}, {"max_tokens", 200}}, gen);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ((*out)["full_solution"], a.choices[0].content);
  EXPECT_EQ((*out)["reasoning"], a.choices[0].reasoning);
}

TEST_F(TinyR1, RawPromptIsNotSplitAndStopsAtMaxTokens) {
  LocalGenerator gen(*served_);
  GenerationRequest r;
  r.prompt = "What is";
  r.sampling.temperature = 0.0;
  r.sampling.max_tokens = 5;
  r.sampling.ignore_eos = true;
  const GenerationResponse out = gen.generate(r);
  ASSERT_EQ(out.choices.size(), 1u);
  EXPECT_EQ(out.choices[0].finish_reason, "length");
  EXPECT_EQ(out.choices[0].reasoning, "");
  EXPECT_EQ(out.completion_tokens, 5);
}

TEST_F(TinyR1, SeveralSampledChoices) {
  LocalGenerator gen(*served_);
  GenerationRequest r;
  r.messages = {{"user", "What is 7 + 8?"}};
  r.sampling.n = 3;
  r.sampling.seed = 1234;
  r.sampling.max_tokens = 160;
  const GenerationResponse out = gen.generate(r);
  ASSERT_EQ(out.choices.size(), 3u);
  for (const GeneratedText& c : out.choices) EXPECT_FALSE(c.finish_reason.empty());
}

TEST_F(TinyR1, InvalidRequestsNameTheProblem) {
  LocalGenerator gen(*served_);
  GenerationRequest both;
  both.messages = {{"user", "hi"}};
  both.prompt = "hi";
  EXPECT_THROW(gen.generate(both), Error);
  GenerationRequest role;
  role.messages = {{"robot", "hi"}};
  try {
    gen.generate(role);
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("messages[0].role is \"robot\""), std::string::npos) << e.what();
  }
  GenerationRequest bad_top_p;
  bad_top_p.messages = {{"user", "hi"}};
  bad_top_p.sampling.top_p = 1.5;
  try {
    gen.generate(bad_top_p);
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos) << e.what();
  }
}

TEST_F(TinyR1, ConcurrentCallersShareTheEngine) {
  // eval calls one generator from many threads; each caller must get its own complete answer.
  LocalGenerator gen(*served_);
  const std::vector<std::string> problems = {"What is 1 + 2?", "What is 3 + 4?", "What is 5 + 1?", "What is 2 + 2?"};
  std::vector<MathSolution> solutions(problems.size());
  std::vector<std::string> errors(problems.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < problems.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        MathSolveOptions options;
        options.sampling.temperature = 0.0;
        options.sampling.max_tokens = 256;
        solutions[i] = MathSolver(gen).solve(problems[i], options);
      } catch (const Error& e) {
        errors[i] = e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < problems.size(); ++i) {
    EXPECT_EQ(errors[i], "") << problems[i];
    EXPECT_EQ(solutions[i].problem, problems[i]);
    EXPECT_EQ(solutions[i].finish_reason, "stop") << problems[i];
    EXPECT_TRUE(solutions[i].has_boxed_answer) << problems[i] << ": " << solutions[i].full_solution;
  }
}

TEST(GeneratorFactory, NeedsExactlyOneSource) {
  GeneratorSource none;
  EXPECT_THROW(open_generator(none), Error);
  GeneratorSource both;
  both.model_dir = "x";
  both.url = "http://127.0.0.1:1";
  EXPECT_THROW(open_generator(both), Error);
  GeneratorSource missing;
  missing.model_dir = "/nonexistent-model-folder";
  EXPECT_THROW(open_generator(missing), Error);
  GeneratorSource remote;
  remote.url = "http://127.0.0.1:1";
  remote.served_model = "m";
  EXPECT_EQ(open_generator(remote)->model_name(), "m");  // no request until generate()
}

}  // namespace
}  // namespace fp4::apps
