// `fp4serve eval`: evaluation of models. Each mode is one option group and one run_<mode> function;
// run_eval picks the mode that was given and refuses a mix.
//
//   fp4serve eval --kld BASE CANDIDATE (--text FILE | --ids-file FILE) [--ctx N] [--all-positions] [--json]
//       logit-level comparison of CANDIDATE against BASE (mean/median/p99/max KL, top-1 agreement,
//       perplexity of both); see fp4/eval/kld.h for the windowing.
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "cli/command.h"
#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/eval/kld.h"
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

struct EvalArgs {
  KldArgs kld;
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

int run_eval(const EvalArgs& a) {
  if (!a.kld.models.empty()) return run_kld(a);
  fail("eval: choose what to evaluate: --kld BASE CANDIDATE");
}

const Command kEval{
    "eval", "Evaluate models (--kld: logit-level comparison of a candidate against a base model)",
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
      return [a] { return run_eval(*a); };
    }};

}  // namespace
}  // namespace fp4::cli
