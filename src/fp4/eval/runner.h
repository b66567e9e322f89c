// Runs suites against a model (any TextGenerator: the in-process engine or an OpenAI-compatible server)
// and scores them.
//
// Protocol (DeepSeek-R1's): k samples per problem at temperature 0.6, top_p 0.95 (both settable; with
// temperature 0 every sample is the greedy one). pass@1 of a suite = the mean over problems of the
// fraction of the problem's k samples that are correct. Each sample gets its own seed, a function of
// (seed, suite, problem id, sample index), so a run is reproducible and a resumed run draws what the
// original would have drawn.
//
// 95% confidence interval: percentile bootstrap over problems (each problem's k-sample mean is one
// observation; 10,000 resamples with a fixed seed), so the interval respects [0, 1] even for small
// suites and near 0 % or 100 %. The standard error over problems (sd / sqrt(n)) is reported as well.
//
// Results file (JSONL, optional): one line per (model, suite, problem, sample) as it completes, flushed;
// a restarted run reads it and skips every sample already there for the same model and suite.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fp4/apps/text_generator.h"
#include "fp4/eval/sandbox.h"
#include "fp4/eval/suite.h"

namespace fp4::eval {

struct RunOptions {
  int samples = 1;          // k
  int concurrency = 1;      // requests in flight
  double temperature = 0.6;
  double top_p = 0.95;
  std::optional<int64_t> max_tokens;
  int64_t limit = 0;        // the first N problems of each suite; 0 = all
  uint64_t seed = 0;
  std::string results_path;  // "" = no results file
  std::string model_label;   // the "model" field of result lines (the folder or URL as given)
  bool progress = true;      // progress on stderr (a bar on a terminal, plain lines otherwise)
  SandboxLimits sandbox;
};

struct SuiteScore {
  std::string suite;  // name (file stem)
  std::string type;   // suite type name
  int64_t problems = 0;
  int samples_per_problem = 0;
  double pass1 = 0.0;           // in [0, 1]
  double stderr_pass1 = 0.0;    // sd over problems / sqrt(n)
  double ci_low = 0.0, ci_high = 0.0;  // 95% percentile bootstrap over problems
  int64_t correct_samples = 0, total_samples = 0;
  int64_t truncated_samples = 0;  // finish_reason "length": the answer was cut off
  int64_t completion_tokens = 0;
};

struct ModelScores {
  std::string model;  // label
  std::vector<SuiteScore> suites;
};

// pass@1 statistics from the per-problem fractions correct (exposed for tests).
SuiteScore summarize(const std::vector<double>& per_problem_fraction, uint64_t bootstrap_seed = 0x5eed);

// The per-sample seed (exposed so tests and other tools can reproduce a sample).
uint64_t sample_seed(uint64_t seed, std::string_view suite, std::string_view problem_id, int sample);

ModelScores run_suites(apps::TextGenerator& generator, const std::vector<Suite>& suites, const RunOptions& options);

nlohmann::ordered_json scores_json(const ModelScores& scores);
ModelScores scores_from_json(const nlohmann::json& j);

}  // namespace fp4::eval
