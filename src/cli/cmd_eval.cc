// `fp4serve eval`: evaluation of models. Each mode is one option group and one run_<mode> function;
// run_eval picks the mode that was given and refuses a mix.
//
//   fp4serve eval (-m DIR | --url URL) --suite FILE... [-k N] [--concurrency N] [--results F]
//       [--max-tokens N] [--limit N] [--temperature T] [--top-p P] [--seed S] [--suite-type T]
//       runs the suites against one model and prints pass@1 with 95% confidence intervals;
//   fp4serve eval --compare A B --suite FILE... [same options] [--out DIR]
//       the same for two models (folders or URLs) and the comparison report (Markdown, JSON, SVG, PNG);
//   fp4serve eval --self-check --suite FILE...
//       scores every problem's own reference answer (HumanEval: the canonical solution in the sandbox);
//   fp4serve eval --math-equal PAIRS.jsonl
//       answer equivalence for {"reference", "predicted"} lines, one JSON verdict per line;
//   fp4serve eval --kld BASE CANDIDATE (--text FILE | --ids-file FILE) [--ctx N] [--all-positions] [--json]
//       logit-level comparison of CANDIDATE against BASE (mean/median/p99/max KL, top-1 agreement,
//       perplexity of both); see fp4/eval/kld.h for the windowing.
#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "cli/command.h"
#include "fp4/apps/local_generator.h"
#include "fp4/apps/remote_generator.h"
#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/eval/kld.h"
#include "fp4/eval/math_equiv.h"
#include "fp4/eval/report.h"
#include "fp4/eval/runner.h"
#include "fp4/eval/scoring.h"
#include "fp4/eval/suite.h"
#include "fp4/runtime/served_model.h"
#include "fp4/io/safetensors.h"
#include "fp4/model/model.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::cli {
namespace {

struct KldArgs {
  std::vector<std::string> models;  // [BASE, CANDIDATE] when the mode is chosen
  std::string text_path;
  std::string ids_path;
  int64_t ctx = 512;
  bool all_positions = false;
  std::string dump_logits_path;
};

struct SuiteArgs {
  std::string model_dir;
  std::string url;
  std::vector<std::string> compare;  // [A, B]
  std::vector<std::string> suites;
  std::string suite_type;
  std::string api_key;
  std::string out_dir = "eval-report";
  bool self_check = false;
  std::string math_equal_path;
  eval::RunOptions run;
  int64_t max_tokens = 0;
};

struct EvalArgs {
  KldArgs kld;
  SuiteArgs suite;
  bool json = false;
  int threads = 0;
  bool exact = false;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FP4_CHECK(in.good(), "{}: cannot open for reading", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Token ids separated by whitespace and/or commas.
std::vector<int32_t> read_ids_file(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    if (end == i || end - i > 9) {  // more than 9 digits could overflow int32
      size_t word_end = i;
      while (word_end < text.size() && word_end - i < 16 && std::string_view(",\n\r\t ").find(text[word_end]) ==
                                                                 std::string_view::npos) {
        ++word_end;
      }
      fail("{}: byte {}: '{}' is not a token id (expected non-negative integers separated by whitespace or commas)",
           path, i, text.substr(i, word_end - i));
    }
    ids.push_back(static_cast<int32_t>(std::stol(text.substr(i, end - i))));
    i = end;
  }
  FP4_CHECK(!ids.empty(), "{}: no token ids", path);
  return ids;
}

// Accumulates every window's tokens and logits for --dump-logits:
//   tokens I32 [windows, ctx], base.logits / candidate.logits F32 [windows, ctx, vocab].
struct LogitsDump {
  int64_t vocab = 0, ctx = 0, windows = 0;
  std::vector<int32_t> tokens;
  std::vector<float> base, cand;

  void add(std::span<const int32_t> window, const float* b, const float* c) {
    tokens.insert(tokens.end(), window.begin(), window.end());
    base.insert(base.end(), b, b + ctx * vocab);
    cand.insert(cand.end(), c, c + ctx * vocab);
    ++windows;
  }

  template <typename T>
  static io::TensorData tensor(const std::string& name, DType dtype, std::vector<int64_t> shape,
                               const std::vector<T>& v) {
    io::TensorData t;
    t.spec.name = name;
    t.spec.dtype = dtype;
    t.spec.shape = std::move(shape);
    t.bytes.resize(v.size() * sizeof(T));
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
  }

  void write(const std::string& path, int64_t first_scored) const {
    std::vector<io::TensorData> out;
    out.push_back(tensor("tokens", DType::kI32, {windows, ctx}, tokens));
    out.push_back(tensor("base.logits", DType::kF32, {windows, ctx, vocab}, base));
    out.push_back(tensor("candidate.logits", DType::kF32, {windows, ctx, vocab}, cand));
    io::write_safetensors_file(path, out, {{"format", "pt"}, {"first_scored_row", std::to_string(first_scored)}});
  }
};

int run_kld(const EvalArgs& a) {
  const KldArgs& k = a.kld;
  FP4_CHECK(k.text_path.empty() != k.ids_path.empty(), "eval --kld: give the input as --text FILE or --ids-file FILE");
  const std::string& base_dir = k.models[0];
  const std::string& cand_dir = k.models[1];

  std::vector<int32_t> tokens;
  if (!k.text_path.empty()) {
    // The base model's own tokenizer (special tokens added once, at the start, as its config says).
    const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_directory(base_dir);
    for (uint32_t id : tok.encode(read_file(k.text_path))) tokens.push_back(static_cast<int32_t>(id));
  } else {
    tokens = read_ids_file(k.ids_path);
  }

  ThreadPool pool(a.threads);
  std::unique_ptr<model::Model> base = model::Model::load(base_dir, pool);
  std::unique_ptr<model::Model> cand = model::Model::load(cand_dir, pool);
  std::fprintf(stderr, "base: %s\ncandidate: %s\n", base->describe().c_str(), cand->describe().c_str());

  eval::KldOptions opt;
  opt.ctx = k.ctx;
  opt.score_all_positions = k.all_positions;
  opt.forward.exact_matmul = a.exact;
  LogitsDump dump;
  dump.vocab = base->vocab_size();
  dump.ctx = k.ctx;
  if (!k.dump_logits_path.empty()) {
    opt.on_window = [&dump](int64_t, std::span<const int32_t> w, const float* b, const float* c) { dump.add(w, b, c); };
  }
  const bool tty = isatty(fileno(stderr)) != 0;
  opt.on_progress = [tty](int64_t done, int64_t total) {
    if (tty) std::fprintf(stderr, "\rwindow %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
    if (tty && done == total) std::fprintf(stderr, "\n");
  };

  const eval::KldResult r = eval::evaluate_kld(*base, *cand, tokens, opt);
  if (!k.dump_logits_path.empty()) {
    dump.write(k.dump_logits_path, r.first_scored);
    std::fprintf(stderr, "dumped the logits of %lld windows to %s\n", static_cast<long long>(dump.windows),
                 k.dump_logits_path.c_str());
  }
  const std::string out = a.json ? eval::kld_json(r, base_dir, cand_dir) + "\n"
                                 : eval::format_kld_report(r, base_dir, cand_dir);
  std::fputs(out.c_str(), stdout);
  return 0;
}


bool is_url(const std::string& s) { return s.starts_with("http://") || s.starts_with("https://"); }

std::vector<eval::Suite> load_suites(const SuiteArgs& a) {
  FP4_CHECK(!a.suites.empty(), "eval: give at least one --suite FILE");
  std::optional<eval::SuiteType> type;
  if (!a.suite_type.empty()) type = eval::parse_suite_type(a.suite_type);
  std::vector<eval::Suite> suites;
  for (const auto& path : a.suites) {
    suites.push_back(eval::load_suite(path, type));
    for (size_t i = 0; i + 1 < suites.size(); ++i) {
      FP4_CHECK(suites[i].name != suites.back().name, "eval: two suites are named '{}' ({} and {}); rename one",
                suites.back().name, suites[i].path, path);
    }
  }
  return suites;
}

// Scores one model given as a folder (in-process engine) or a URL (an OpenAI-compatible server).
eval::ModelScores score_model(const std::string& spec, const EvalArgs& a, const std::vector<eval::Suite>& suites) {
  eval::RunOptions opt = a.suite.run;
  opt.model_label = spec;
  if (a.suite.max_tokens > 0) opt.max_tokens = a.suite.max_tokens;
  if (is_url(spec)) {
    apps::RemoteGenerator gen(spec, a.suite.api_key);
    return eval::run_suites(gen, suites, opt);
  }
  runtime::EngineConfig config;
  config.forward.exact_matmul = a.exact;
  config.max_num_seqs = std::max<int64_t>(config.max_num_seqs, opt.concurrency);
  auto served = runtime::ServedModel::load(spec, config, a.threads);
  apps::LocalGenerator gen(*served);
  return eval::run_suites(gen, suites, opt);
}

int run_suites_mode(const EvalArgs& a) {
  const auto suites = load_suites(a.suite);
  const std::string spec = a.suite.url.empty() ? a.suite.model_dir : a.suite.url;
  const eval::ModelScores scores = score_model(spec, a, suites);
  if (a.json) {
    std::fputs((eval::scores_json(scores).dump(2) + "\n").c_str(), stdout);
  } else {
    std::fputs(eval::scores_markdown({scores}).c_str(), stdout);
  }
  return 0;
}

int run_compare(const EvalArgs& a) {
  // The labels key the results file: two equal ones would share each other's samples.
  FP4_CHECK(a.suite.compare[0] != a.suite.compare[1], "eval --compare: A and B are the same ('{}')", a.suite.compare[0]);
  const auto suites = load_suites(a.suite);
  std::vector<eval::ModelScores> models;
  for (const auto& spec : a.suite.compare) models.push_back(score_model(spec, a, suites));
  const std::string title = fmt::format("pass@1: {} vs {}", a.suite.compare[0], a.suite.compare[1]);
  const auto written = eval::write_compare_report(models, a.suite.out_dir, title);
  if (a.json) {
    std::fputs((eval::compare_json(models).dump(2) + "\n").c_str(), stdout);
  } else {
    std::fputs(eval::scores_markdown(models).c_str(), stdout);
  }
  for (const auto& path : written) std::fprintf(stderr, "wrote %s\n", path.c_str());
  return 0;
}

// Every problem scored on its own reference answer: a check of the suite files, of the scorers and, for
// HumanEval, of the sandbox on real tests.
int run_self_check(const EvalArgs& a) {
  const auto suites = load_suites(a.suite);
  int failures = 0;
  for (const auto& suite : suites) {
    const size_t n = suite.problems.size();
    std::vector<eval::Score> scores(n);
    std::atomic<size_t> next{0};
    const auto worker = [&] {
      for (size_t i = next++; i < n; i = next++) {
        const auto& p = suite.problems[i];
        scores[i] = eval::score_completion(suite.type, p, eval::reference_completion(suite.type, p), a.suite.run.sandbox);
      }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < std::max(1, a.suite.run.concurrency); ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    int ok = 0;
    for (size_t i = 0; i < n; ++i) {
      if (scores[i].correct) {
        ++ok;
      } else {
        std::printf("%s: %s: reference scored wrong (extracted '%s') %s\n", suite.name.c_str(),
                    suite.problems[i].id.c_str(), scores[i].extracted.c_str(), scores[i].detail.c_str());
      }
    }
    failures += static_cast<int>(n) - ok;
    std::printf("%s (%s): %d/%zu references score correct\n", suite.name.c_str(),
                std::string(eval::suite_type_name(suite.type)).c_str(), ok, n);
  }
  return failures == 0 ? 0 : 1;
}

// {"reference": ..., "predicted": ...} per line → {"equal": bool, "reference_clean": ..., "predicted_clean": ...}.
int run_math_equal(const EvalArgs& a) {
  std::ifstream in(a.suite.math_equal_path);
  FP4_CHECK(in.good(), "{}: cannot open", a.suite.math_equal_path);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail("{}:{}: not valid JSON ({})", a.suite.math_equal_path, line_no, e.what());
    }
    FP4_CHECK(j.is_object() && j.contains("reference") && j["reference"].is_string() && j.contains("predicted") &&
                  j["predicted"].is_string(),
              "{}:{}: expected string fields 'reference' and 'predicted'", a.suite.math_equal_path, line_no);
    const std::string ref = j["reference"], pred = j["predicted"];
    nlohmann::ordered_json out;
    out["equal"] = eval::math_answers_equal(ref, pred);
    out["reference_clean"] = eval::clean_math_answer(ref);
    out["predicted_clean"] = eval::clean_math_answer(pred);
    std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return 0;
}

int run_eval(const EvalArgs& a) {
  const SuiteArgs& s = a.suite;
  const int modes = !a.kld.models.empty() + !s.compare.empty() + (!s.model_dir.empty() || !s.url.empty()) +
                    s.self_check + !s.math_equal_path.empty();
  FP4_CHECK(modes <= 1, "eval: choose one mode: -m/--url, --compare, --self-check, --math-equal or --kld");
  FP4_CHECK(s.model_dir.empty() || s.url.empty(), "eval: give the model as -m DIR or as --url URL, not both");
  if (!a.kld.models.empty()) return run_kld(a);
  if (!s.compare.empty()) return run_compare(a);
  if (!s.model_dir.empty() || !s.url.empty()) return run_suites_mode(a);
  if (s.self_check) return run_self_check(a);
  if (!s.math_equal_path.empty()) return run_math_equal(a);
  fail("eval: choose what to evaluate: -m DIR / --url URL with --suite, --compare A B, --self-check, "
       "--math-equal FILE or --kld BASE CANDIDATE");
}

const Command kEval{
    "eval", "Evaluate models: suites (pass@1), --compare A B, --kld (logit-level comparison)",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<EvalArgs>();
      // Options shared by every mode.
      sub.add_flag("--json", a->json, "Print the results as JSON");
      sub.add_option("--threads", a->threads, "Worker threads (0 = one per core)")->check(CLI::NonNegativeNumber);
      sub.add_flag("--exact", a->exact, "Scalar reference matmul with f32 activations (slow; for comparisons)");
      // --kld mode.
      auto* kld = sub.add_option("--kld", a->kld.models, "BASE CANDIDATE model folders to compare at the logits")
                      ->expected(2)
                      ->check(CLI::ExistingDirectory);
      auto* text = sub.add_option("--text", a->kld.text_path, "Text file, tokenized with BASE's tokenizer")
                       ->check(CLI::ExistingFile);
      auto* ids = sub.add_option("--ids-file", a->kld.ids_path, "File of token ids (whitespace or comma separated)")
                      ->check(CLI::ExistingFile);
      text->excludes(ids);
      sub.add_option("--ctx", a->kld.ctx, "Tokens per window (default 512; stride = ctx)")
          ->check(CLI::Range(2, 1 << 24));
      sub.add_flag("--all-positions", a->kld.all_positions,
                   "Score every row of a window (default: the second half, as llama.cpp does)");
      sub.add_option("--dump-logits", a->kld.dump_logits_path,
                     "Write tokens and both models' logits of every window to this .safetensors file");
      text->needs(kld);
      ids->needs(kld);
      // Suite modes.
      SuiteArgs& s = a->suite;
      sub.add_option("-m,--model", s.model_dir, "Model folder to evaluate in process")->check(CLI::ExistingDirectory);
      sub.add_option("--url", s.url, "OpenAI-compatible server to evaluate (http://host:port)");
      sub.add_option("--api-key", s.api_key, "Bearer key for --url / URL models");
      sub.add_option("--compare", s.compare, "Two models A B (folders or URLs): the comparison report")->expected(2);
      sub.add_option("--suite", s.suites, "Suite JSONL file(s): MATH-500, AIME, MMLU-Pro, GPQA or HumanEval layout")
          ->check(CLI::ExistingFile);
      sub.add_option("--suite-type", s.suite_type, "Suite type instead of detection: math500|aime|mmlu_pro|gpqa|humaneval");
      sub.add_option("-k,--samples", s.run.samples, "Samples per problem (pass@1 is averaged over them)")
          ->check(CLI::Range(1, 1024));
      sub.add_option("--concurrency", s.run.concurrency, "Requests in flight")->check(CLI::Range(1, 1024));
      sub.add_option("--results", s.run.results_path, "Results JSONL: one line per sample; a rerun resumes from it");
      sub.add_option("--max-tokens", s.max_tokens, "Generation limit per sample (default: the model's)")
          ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
      sub.add_option("--limit", s.run.limit, "Only the first N problems of each suite")->check(CLI::NonNegativeNumber);
      sub.add_option("--temperature", s.run.temperature, "Sampling temperature (default 0.6, DeepSeek's protocol)")
          ->check(CLI::Range(0.0, 2.0));
      sub.add_option("--top-p", s.run.top_p, "Nucleus sampling (default 0.95)")->check(CLI::Range(0.0, 1.0));
      sub.add_option("--seed", s.run.seed, "Base seed of the per-sample seeds");
      sub.add_option("--out", s.out_dir, "Folder for the --compare report (default eval-report)");
      sub.add_option("--sandbox-timeout", s.run.sandbox.wall_seconds, "HumanEval: seconds per program (default 20)")
          ->check(CLI::Range(1.0, 3600.0));
      sub.add_flag("--no-progress", [a](int64_t) { a->suite.run.progress = false; }, "No progress output on stderr");
      sub.add_flag("--self-check", s.self_check, "Score every problem's reference answer (checks suites and scorers)");
      sub.add_option("--math-equal", s.math_equal_path, "JSONL of {reference, predicted}: print equivalence verdicts")
          ->check(CLI::ExistingFile);
      return [a] { return run_eval(*a); };
    }};

}  // namespace
}  // namespace fp4::cli
