#include "fp4/eval/runner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "fp4/base/error.h"
#include "fp4/eval/scoring.h"

namespace fp4::eval {
namespace {

using json = nlohmann::ordered_json;

uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct SampleKey {
  std::string suite, problem;
  int sample;
  bool operator<(const SampleKey& o) const {
    return std::tie(suite, problem, sample) < std::tie(o.suite, o.problem, o.sample);
  }
};

struct SampleOutcome {
  bool correct = false;
  bool truncated = false;
  int64_t completion_tokens = 0;
};

// Reads the earlier lines of this model from a results file. A line that does not parse (a run killed
// mid-write leaves at most one) is reported and ignored.
std::map<SampleKey, SampleOutcome> read_results(const std::string& path, const std::string& model) {
  std::map<SampleKey, SampleOutcome> done;
  std::ifstream in(path);
  if (!in.good()) return done;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      if (j.value("model", "") != model) continue;
      SampleOutcome o;
      o.correct = j.at("correct").get<bool>();
      o.truncated = j.value("finish_reason", "") == "length";
      o.completion_tokens = j.value("completion_tokens", int64_t{0});
      done[{j.at("suite").get<std::string>(), j.at("problem_id").get<std::string>(), j.at("sample").get<int>()}] = o;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s:%d: ignoring an unreadable results line (%s)\n", path.c_str(), line_no, e.what());
    }
  }
  return done;
}

class Progress {
 public:
  Progress(bool enabled, int64_t total, std::string label)
      : enabled_(enabled), tty_(isatty(fileno(stderr)) != 0), total_(total), label_(std::move(label)),
        start_(std::chrono::steady_clock::now()) {}

  void update(int64_t done, int64_t correct) {
    if (!enabled_ || total_ == 0) return;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double frac = static_cast<double>(done) / static_cast<double>(total_);
    const double acc = done ? 100.0 * static_cast<double>(correct) / static_cast<double>(done) : 0.0;
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(frac * kWidth);
      std::string bar(static_cast<size_t>(filled), '#');
      bar.append(static_cast<size_t>(kWidth - filled), '.');
      std::fprintf(stderr, "\r%s [%s] %lld/%lld  correct %.1f%%  %.0f s ", label_.c_str(), bar.c_str(),
                   static_cast<long long>(done), static_cast<long long>(total_), acc, secs);
      if (done == total_) std::fprintf(stderr, "\n");
    } else {
      // Plain lines at every 10% step (and the end), so a log stays short.
      const int step = static_cast<int>(frac * 10);
      if (step > last_step_ || done == total_) {
        last_step_ = step;
        std::fprintf(stderr, "%s: %lld/%lld samples, correct %.1f%%, %.0f s\n", label_.c_str(),
                     static_cast<long long>(done), static_cast<long long>(total_), acc, secs);
      }
    }
  }

 private:
  bool enabled_, tty_;
  int64_t total_;
  std::string label_;
  std::chrono::steady_clock::time_point start_;
  int last_step_ = -1;
};

}  // namespace

uint64_t sample_seed(uint64_t seed, std::string_view suite, std::string_view problem_id, int sample) {
  uint64_t h = fnv1a(suite, seed ^ 1469598103934665603ull);
  h = fnv1a("\x1f", h);
  h = fnv1a(problem_id, h);
  h ^= static_cast<uint64_t>(sample) * 0x9e3779b97f4a7c15ull;
  // splitmix64's finalizer, so that neighbouring problems and samples get unrelated seeds.
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h & ((uint64_t{1} << 62) - 1);  // non-negative as int64 (the OpenAI seed field is signed)
}

SuiteScore summarize(const std::vector<double>& p, uint64_t bootstrap_seed) {
  SuiteScore s;
  const size_t n = p.size();
  s.problems = static_cast<int64_t>(n);
  if (n == 0) return s;
  double sum = 0;
  for (double x : p) sum += x;
  s.pass1 = sum / static_cast<double>(n);
  if (n >= 2) {
    double ss = 0;
    for (double x : p) ss += (x - s.pass1) * (x - s.pass1);
    s.stderr_pass1 = std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n));
  }
  // Percentile bootstrap: resample the problems with replacement, take the 2.5th and 97.5th percentiles
  // of the resampled means.
  constexpr int kResamples = 10000;
  std::mt19937_64 rng(bootstrap_seed);
  std::uniform_int_distribution<size_t> pick(0, n - 1);
  std::vector<double> means(kResamples);
  for (int r = 0; r < kResamples; ++r) {
    double m = 0;
    for (size_t i = 0; i < n; ++i) m += p[pick(rng)];
    means[static_cast<size_t>(r)] = m / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  const auto quantile = [&means](double q) {  // linear interpolation between order statistics
    const double pos = q * static_cast<double>(means.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, means.size() - 1);
    return means[lo] + (means[hi] - means[lo]) * (pos - static_cast<double>(lo));
  };
  s.ci_low = quantile(0.025);
  s.ci_high = quantile(0.975);
  return s;
}

ModelScores run_suites(apps::TextGenerator& generator, const std::vector<Suite>& suites, const RunOptions& o) {
  FP4_CHECK(o.samples >= 1, "eval: -k must be at least 1, got {}", o.samples);
  FP4_CHECK(o.concurrency >= 1, "eval: --concurrency must be at least 1, got {}", o.concurrency);
  ModelScores out;
  out.model = o.model_label.empty() ? generator.model_name() : o.model_label;

  std::map<SampleKey, SampleOutcome> done;
  std::ofstream results;
  std::mutex results_mutex;
  if (!o.results_path.empty()) {
    done = read_results(o.results_path, out.model);
    // A run killed mid-write leaves a line without its newline: end it, so the next line starts fresh.
    bool torn = false;
    {
      std::ifstream in(o.results_path, std::ios::binary | std::ios::ate);
      if (in.good() && in.tellg() > 0) {
        in.seekg(-1, std::ios::end);
        torn = in.get() != '\n';
      }
    }
    results.open(o.results_path, std::ios::app);
    FP4_CHECK(results.good(), "{}: cannot open the results file for appending", o.results_path);
    if (torn) results << "\n";
  }

  for (const Suite& suite : suites) {
    const size_t n = o.limit > 0 ? std::min(suite.problems.size(), static_cast<size_t>(o.limit)) : suite.problems.size();
    struct Work {
      size_t problem;
      int sample;
    };
    std::vector<Work> pending;
    std::vector<std::vector<SampleOutcome>> outcomes(n, std::vector<SampleOutcome>(static_cast<size_t>(o.samples)));
    int64_t already = 0, already_correct = 0;
    for (size_t i = 0; i < n; ++i) {
      for (int k = 0; k < o.samples; ++k) {
        const auto it = done.find({suite.name, suite.problems[i].id, k});
        if (it != done.end()) {
          outcomes[i][static_cast<size_t>(k)] = it->second;
          ++already;
          already_correct += it->second.correct;
        } else {
          pending.push_back({i, k});
        }
      }
    }
    const int64_t total = static_cast<int64_t>(n) * o.samples;
    Progress progress(o.progress, total, fmt::format("{} {}", out.model, suite.name));
    if (already > 0 && o.progress) {
      std::fprintf(stderr, "%s: %lld of %lld samples already in %s\n", suite.name.c_str(),
                   static_cast<long long>(already), static_cast<long long>(total), o.results_path.c_str());
    }

    std::atomic<size_t> next{0};
    std::atomic<int64_t> finished{already}, correct{already_correct};
    std::mutex error_mutex, progress_mutex;
    std::string first_error;
    const auto worker = [&] {
      while (true) {
        const size_t w = next.fetch_add(1);
        if (w >= pending.size()) return;
        {
          std::lock_guard lock(error_mutex);
          if (!first_error.empty()) return;
        }
        const Problem& p = suite.problems[pending[w].problem];
        const int k = pending[w].sample;
        try {
          apps::GenerationRequest req;
          req.messages.push_back({"user", build_prompt(suite.type, p)});
          req.sampling.temperature = o.temperature;
          req.sampling.top_p = o.top_p;
          req.sampling.seed = static_cast<int64_t>(sample_seed(o.seed, suite.name, p.id, k));
          if (o.max_tokens) req.sampling.max_tokens = *o.max_tokens;
          const apps::GenerationResponse resp = generator.generate(req);
          FP4_CHECK(!resp.choices.empty(), "the generator returned no choice");
          const apps::GeneratedText& text = resp.choices[0];
          const Score score = score_completion(suite.type, p, text.content, o.sandbox);
          SampleOutcome& oc = outcomes[pending[w].problem][static_cast<size_t>(k)];
          oc.correct = score.correct;
          oc.truncated = text.finish_reason == "length";
          oc.completion_tokens = resp.completion_tokens;
          if (results.is_open()) {
            json line;
            line["model"] = out.model;
            line["suite"] = suite.name;
            line["problem_id"] = p.id;
            line["sample"] = k;
            line["correct"] = score.correct;
            line["extracted"] = score.extracted;
            line["reference"] = p.answer;
            if (!p.category.empty()) line["category"] = p.category;
            line["finish_reason"] = text.finish_reason;
            line["completion_tokens"] = resp.completion_tokens;
            line["seed"] = *req.sampling.seed;
            line["response"] = text.content;
            if (!score.detail.empty()) line["detail"] = score.detail;
            const std::string s = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
            std::lock_guard lock(results_mutex);
            results << s;
            results.flush();
          }
          correct += score.correct;
          const int64_t f = ++finished;
          std::lock_guard lock(progress_mutex);
          progress.update(f, correct.load());
        } catch (const std::exception& e) {
          std::lock_guard lock(error_mutex);
          if (first_error.empty()) first_error = fmt::format("{} problem '{}' sample {}: {}", suite.name, p.id, k, e.what());
        }
      }
    };
    std::vector<std::thread> threads;
    const int nthreads = static_cast<int>(std::min<size_t>(static_cast<size_t>(o.concurrency), std::max<size_t>(pending.size(), 1)));
    for (int t = 0; t < nthreads; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    // The samples already written stay in the results file: a rerun resumes after the failure.
    if (!first_error.empty()) fail("eval: {}", first_error);

    std::vector<double> fractions;
    SuiteScore score;
    for (const auto& per_problem : outcomes) {
      int c = 0;
      for (const auto& oc : per_problem) {
        c += oc.correct;
        score.truncated_samples += oc.truncated;
        score.completion_tokens += oc.completion_tokens;
      }
      score.correct_samples += c;
      fractions.push_back(static_cast<double>(c) / static_cast<double>(o.samples));
    }
    SuiteScore stats = summarize(fractions);
    stats.suite = suite.name;
    stats.type = std::string(suite_type_name(suite.type));
    stats.samples_per_problem = o.samples;
    stats.correct_samples = score.correct_samples;
    stats.total_samples = total;
    stats.truncated_samples = score.truncated_samples;
    stats.completion_tokens = score.completion_tokens;
    out.suites.push_back(stats);
  }
  return out;
}

nlohmann::ordered_json scores_json(const ModelScores& m) {
  json j;
  j["model"] = m.model;
  j["suites"] = json::array();
  for (const auto& s : m.suites) {
    json e;
    e["suite"] = s.suite;
    e["type"] = s.type;
    e["problems"] = s.problems;
    e["samples_per_problem"] = s.samples_per_problem;
    e["pass1"] = s.pass1;
    e["ci95_low"] = s.ci_low;
    e["ci95_high"] = s.ci_high;
    e["stderr"] = s.stderr_pass1;
    e["correct_samples"] = s.correct_samples;
    e["total_samples"] = s.total_samples;
    e["truncated_samples"] = s.truncated_samples;
    e["completion_tokens"] = s.completion_tokens;
    j["suites"].push_back(e);
  }
  return j;
}

ModelScores scores_from_json(const nlohmann::json& j) {
  ModelScores m;
  m.model = j.at("model").get<std::string>();
  for (const auto& e : j.at("suites")) {
    SuiteScore s;
    s.suite = e.at("suite").get<std::string>();
    s.type = e.value("type", "");
    s.problems = e.at("problems").get<int64_t>();
    s.samples_per_problem = e.value("samples_per_problem", 1);
    s.pass1 = e.at("pass1").get<double>();
    s.ci_low = e.at("ci95_low").get<double>();
    s.ci_high = e.at("ci95_high").get<double>();
    s.stderr_pass1 = e.value("stderr", 0.0);
    s.correct_samples = e.value("correct_samples", int64_t{0});
    s.total_samples = e.value("total_samples", int64_t{0});
    s.truncated_samples = e.value("truncated_samples", int64_t{0});
    s.completion_tokens = e.value("completion_tokens", int64_t{0});
    m.suites.push_back(s);
  }
  return m;
}

}  // namespace fp4::eval
