// The runner with a scripted generator (pass@1 over k samples, per-sample seeds, the resumable results
// file, concurrency) and the comparison report (Markdown table with the retention row, JSON, SVG).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "fp4/base/error.h"
#include "fp4/eval/report.h"
#include "fp4/eval/runner.h"

namespace fp4::eval {
namespace {

// Answers "What is N?" problems: correct ("\boxed{N}") unless the request's seed is divisible by
// `wrong_every`, so the expected pass@1 is computable from sample_seed alone.
class ScriptedGenerator : public apps::TextGenerator {
 public:
  explicit ScriptedGenerator(uint64_t wrong_every) : wrong_every_(wrong_every) {}
  apps::GenerationResponse generate(const apps::GenerationRequest& request) override {
    ++calls;
    {
      std::lock_guard lock(mutex_);
      seeds.insert(*request.sampling.seed);
      EXPECT_EQ(*request.sampling.temperature, 0.6);
      EXPECT_EQ(*request.sampling.top_p, 0.95);
    }
    const std::string& q = request.messages.at(0).content;
    const std::string n = q.substr(8, q.find('?') - 8);  // "What is N?\n..."
    const bool right = static_cast<uint64_t>(*request.sampling.seed) % wrong_every_ != 0;
    apps::GenerationResponse r;
    r.choices.push_back({"The answer is \\boxed{" + (right ? n : n + "1") + "}.", "", "stop"});
    r.completion_tokens = 7;
    return r;
  }
  std::string model_name() const override { return "scripted"; }

  std::atomic<int> calls{0};
  std::set<int64_t> seeds;

 private:
  uint64_t wrong_every_;
  std::mutex mutex_;
};

Suite make_suite(int n) {
  Suite s;
  s.name = "numbers";
  s.type = SuiteType::kMath500;
  for (int i = 0; i < n; ++i) {
    Problem p;
    p.id = fmt::format("n{}", i);
    p.question = fmt::format("What is {}?", 100 + i);
    p.answer = std::to_string(100 + i);
    s.problems.push_back(p);
  }
  return s;
}

double expected_pass1(const Suite& s, int k, uint64_t wrong_every, uint64_t seed) {
  double sum = 0;
  for (const auto& p : s.problems) {
    int c = 0;
    for (int j = 0; j < k; ++j) c += sample_seed(seed, s.name, p.id, j) % wrong_every != 0;
    sum += static_cast<double>(c) / k;
  }
  return sum / static_cast<double>(s.problems.size());
}

TEST(Runner, PassAtOneAveragesOverSamplesWithDistinctSeeds) {
  const Suite suite = make_suite(30);
  ScriptedGenerator gen(3);
  RunOptions o;
  o.samples = 4;
  o.concurrency = 4;
  o.progress = false;
  const ModelScores m = run_suites(gen, {suite}, o);
  EXPECT_EQ(gen.calls.load(), 120);
  EXPECT_EQ(gen.seeds.size(), 120u);  // every (problem, sample) has its own seed
  ASSERT_EQ(m.suites.size(), 1u);
  const SuiteScore& s = m.suites[0];
  EXPECT_EQ(s.problems, 30);
  EXPECT_EQ(s.total_samples, 120);
  EXPECT_NEAR(s.pass1, expected_pass1(suite, 4, 3, 0), 1e-12);
  EXPECT_LE(s.ci_low, s.pass1);
  EXPECT_GE(s.ci_high, s.pass1);
  EXPECT_GT(s.pass1, 0.3);  // the scripted generator is right about 2/3 of the time
  EXPECT_LT(s.pass1, 0.95);
  EXPECT_EQ(s.completion_tokens, 120 * 7);
}

TEST(Runner, ResultsFileResumes) {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("fp4_eval_results_{}.jsonl", getpid());
  std::filesystem::remove(path);
  const Suite suite = make_suite(10);
  RunOptions o;
  o.samples = 2;
  o.progress = false;
  o.results_path = path.string();
  o.model_label = "m";
  ScriptedGenerator first(4);
  const ModelScores a = run_suites(first, {suite}, o);
  EXPECT_EQ(first.calls.load(), 20);

  // Everything is in the file: a rerun generates nothing and reports the same numbers.
  ScriptedGenerator second(4);
  const ModelScores b = run_suites(second, {suite}, o);
  EXPECT_EQ(second.calls.load(), 0);
  EXPECT_EQ(b.suites[0].pass1, a.suites[0].pass1);
  EXPECT_EQ(b.suites[0].correct_samples, a.suites[0].correct_samples);

  // Drop the last three lines and a torn half line (a killed run): exactly those three are redone.
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 20u);
  {
    std::ofstream out(path, std::ios::trunc);
    for (size_t i = 0; i < 17; ++i) out << lines[i] << "\n";
    out << lines[17].substr(0, 10);  // no newline: the next run must not glue its first line onto it
  }
  ScriptedGenerator third(4);
  const ModelScores c = run_suites(third, {suite}, o);
  EXPECT_EQ(third.calls.load(), 3);
  EXPECT_EQ(c.suites[0].pass1, a.suites[0].pass1);
  ScriptedGenerator again(4);  // and the three new lines were written whole
  run_suites(again, {suite}, o);
  EXPECT_EQ(again.calls.load(), 0);

  // Another model label does not reuse this model's lines.
  o.model_label = "other";
  ScriptedGenerator fourth(4);
  run_suites(fourth, {suite}, o);
  EXPECT_EQ(fourth.calls.load(), 20);
  std::filesystem::remove(path);
}

TEST(Runner, GeneratorErrorsStopTheRunWithTheProblemNamed) {
  class Failing : public apps::TextGenerator {
   public:
    apps::GenerationResponse generate(const apps::GenerationRequest&) override { fail("server said no"); }
    std::string model_name() const override { return "failing"; }
  } gen;
  RunOptions o;
  o.progress = false;
  try {
    run_suites(gen, {make_suite(2)}, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("numbers problem 'n"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("server said no"), std::string::npos) << e.what();
  }
}

TEST(Summary, StandardErrorAndBootstrapInterval) {
  const SuiteScore all = summarize({1, 1, 1, 1});
  EXPECT_EQ(all.pass1, 1.0);
  EXPECT_EQ(all.ci_low, 1.0);
  EXPECT_EQ(all.ci_high, 1.0);
  EXPECT_EQ(all.stderr_pass1, 0.0);

  // Half right: sd = sqrt(n/(n-1)) * 0.5, stderr = sd / sqrt(n).
  std::vector<double> half(100);
  for (size_t i = 0; i < half.size(); ++i) half[i] = i % 2;
  const SuiteScore h = summarize(half);
  EXPECT_DOUBLE_EQ(h.pass1, 0.5);
  EXPECT_NEAR(h.stderr_pass1, 0.5 * std::sqrt(100.0 / 99.0) / 10.0, 1e-12);
  // The bootstrap interval is close to the normal one (±1.96 · stderr ≈ ±0.0985) for n = 100; the
  // resampling error of 10,000 resamples on the 2.5% quantile is about 0.01.
  EXPECT_NEAR(h.ci_low, 0.5 - 1.96 * h.stderr_pass1, 0.015);
  EXPECT_NEAR(h.ci_high, 0.5 + 1.96 * h.stderr_pass1, 0.015);
  EXPECT_EQ(summarize({}).problems, 0);
}

ModelScores fake_scores(const std::string& name, double a, double b) {
  ModelScores m;
  m.model = name;
  for (auto [suite, p] : {std::pair{"add", a}, std::pair{"mul", b}}) {
    SuiteScore s;
    s.suite = suite;
    s.type = "math500";
    s.problems = 20;
    s.samples_per_problem = 2;
    s.pass1 = p;
    s.ci_low = p - 0.1;
    s.ci_high = std::min(1.0, p + 0.1);
    m.suites.push_back(s);
  }
  return m;
}

TEST(Report, MarkdownTableWithRetentionRow) {
  const std::vector<ModelScores> models = {fake_scores("fp8", 0.8, 0.5), fake_scores("nvfp4", 0.76, 0.5)};
  const std::string md = scores_markdown(models);
  EXPECT_NE(md.find("| Model | add | mul | Average |"), std::string::npos) << md;
  EXPECT_NE(md.find("| fp8 | 80.0 [70.0, 90.0] | 50.0 [40.0, 60.0] | 65.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| Retention (nvfp4 / fp8) | 95.0% | 100.0% | 96.9% |"), std::string::npos) << md;
  const auto j = compare_json(models);
  EXPECT_NEAR(j["retention"]["add"].get<double>(), 0.95, 1e-12);
  EXPECT_EQ(j["models"].size(), 2u);
  const ModelScores back = scores_from_json(j["models"][1]);
  EXPECT_EQ(back.model, "nvfp4");
  EXPECT_EQ(back.suites[0].pass1, 0.76);
}

TEST(Report, SvgHasABarAndAnErrorBarPerModelAndSuite) {
  const std::vector<ModelScores> models = {fake_scores("a<b>", 0.8, 0.5), fake_scores("c&d", 0.7, 0.4)};
  const std::string svg = scores_svg(models, "title");
  ASSERT_TRUE(svg.starts_with("<svg "));
  EXPECT_TRUE(svg.ends_with("</svg>\n"));
  size_t bars = 0, pos = 0;
  while ((pos = svg.find("<rect x=", pos)) != std::string::npos) ++bars, ++pos;
  EXPECT_EQ(bars, 2u /* legend */ + 4u /* bars */);
  size_t lines = 0;
  pos = 0;
  while ((pos = svg.find("stroke=\"black\"", pos)) != std::string::npos) ++lines, ++pos;
  EXPECT_EQ(lines, 4u * 3u + 1u);  // three lines per error bar, plus the x axis
  EXPECT_NE(svg.find("a&lt;b&gt;"), std::string::npos);  // labels are escaped
  EXPECT_NE(svg.find("c&amp;d"), std::string::npos);
}

TEST(Report, WritesTheReportFolder) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("fp4_eval_report_{}", getpid());
  const auto written = write_compare_report({fake_scores("a", 0.8, 0.5), fake_scores("b", 0.7, 0.4)}, dir.string(), "t");
  EXPECT_GE(written.size(), 3u);
  EXPECT_TRUE(std::filesystem::exists(dir / "compare.md"));
  EXPECT_TRUE(std::filesystem::exists(dir / "compare.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "compare.svg"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fp4::eval
