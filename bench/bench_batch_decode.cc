// Batched decode benchmark: aggregate decode tokens/s of Model::forward_batch at several batch sizes (one
// token per sequence per step, every sequence at its own context length), on synthetic checkpoints of a
// Llama-3.1-8B and a DeepSeek-V2-Lite shape cut to a few layers (model::synth, R1-0528-FP4 recipe for
// NVFP4: attention, routers, embeddings and lm_head BF16, MLPs and experts NVFP4).
//
//   bench_batch_decode [--threads N] [--layers L] [--context C] [--steps S] [--batches 1,8,32,64]
//                      [--shapes llama-3.1-8b,deepseek-v2-lite] [--encoding nvfp4|fp8|bf16] [--work-dir DIR]
//                      [--models DIR,...] [--nvfp4-activations f32|int8]
//
// --models also measures existing checkpoint folders as they are (e.g. the small model the server
// benchmark serves); --shapes "" measures only those. --nvfp4-activations int8 runs the NVFP4 linears
// through the W4A8 kernel (int8 dot products: more multiply-adds per instruction once a batch makes
// the step compute-bound); the default is the exact f32-activation path.
//
// Contexts: sequence i of a batch of B sits at C/2 + C·(2i+1)/(2B) tokens, spread over [C/2, 3C/2) with
// mean C (batch 1: exactly C), so every batch size attends over the same mean context. The cached rows
// are real: one sequence of 3C/2 tokens is prefilled once and its rows copied into every sequence's own
// blocks of one paged cache. Each step feeds every sequence its own greedy token.
//
// Ceiling: a decode step streams the weights once whatever the batch (fixed bytes, plus the distinct
// experts the step's router picks, plus every sequence's cached rows; runtime::count_decode_bytes), so
// the table shows the bytes per step and the GB/s they amount to next to the read bandwidth measured in
// the same run. At batch 1 decode is memory-bound; as the batch grows the step turns compute-bound and
// the speedup over batch 1 falls below the batch size.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>
#include <unistd.h>

#include "bench/bench_args.h"
#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/model/model.h"
#include "fp4/model/synth.h"
#include "fp4/runtime/bandwidth_probe.h"
#include "fp4/runtime/kv_cache.h"
#include "fp4/runtime/model_bench.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fp4::model::BatchSequence;

struct Options {
  int threads = 0;
  int64_t layers = 4;
  int64_t context = 512;
  int64_t steps = 4;
  std::vector<int64_t> batches = {1, 8, 32, 64};
  std::vector<std::string> shapes = {"llama-3.1-8b", "deepseek-v2-lite"};
  std::vector<std::string> models;  // checkpoint folders measured as they are, before the shapes
  std::string encoding = "nvfp4";
  bool int8_activations = false;  // NVFP4 linears through the W4A8 kernel (ForwardOptions::nvfp4_activations)
  std::string work_dir = fs::temp_directory_path().string();
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds used by this process so far, all threads (the pool's workers spin briefly between loops,
// so with several threads this exceeds the work done; with --threads 1 it is the work alone, which
// other jobs on a shared machine do not inflate the way they inflate wall time).
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Removes the synthetic checkpoint folder however the run ends.
struct TempDir {
  fs::path path;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

int32_t argmax(const float* x, int64_t n) { return static_cast<int32_t>(std::max_element(x, x + n) - x); }

// Seeded pseudo-random token ids in [0, vocab).
std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int32_t> out(static_cast<size_t>(n));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& t : out) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    t = static_cast<int32_t>(s % static_cast<uint64_t>(vocab));
  }
  return out;
}

struct BatchResult {
  int64_t batch = 0;
  double seconds_per_step = 0;
  double cpu_seconds_per_step = 0;  // process CPU time (see process_cpu_seconds)
  double bytes_per_step = 0;        // mean over the timed steps
  double tokens_per_second() const { return static_cast<double>(batch) / seconds_per_step; }
};

// Loads the checkpoint in `dir`, prefills the context template, then times every batch size.
std::vector<BatchResult> run_model(const std::string& dir, const Options& opt, fp4::ThreadPool& pool) {
  auto model = fp4::model::Model::load(dir, pool);
  const fp4::runtime::DecodeByteCount bytes =
      fp4::runtime::count_decode_bytes(fp4::io::HfCheckpoint::open(dir), model->config());
  std::printf("- model: %s\n", model->describe().c_str());
  auto t0 = Clock::now();
  const int64_t V = model->vocab_size();

  // Context template: one sequence of 3C/2 tokens, prefilled in chunks.
  const int64_t longest = opt.context / 2 + opt.context;
  fp4::runtime::KvCache template_cache = fp4::runtime::KvCache::for_model(*model, longest);
  fp4::runtime::SequenceKv template_kv(template_cache);
  template_kv.reserve(longest);
  {
    const std::vector<int32_t> prompt = random_tokens(longest, V, 7);
    std::vector<float> logits(static_cast<size_t>(V));
    constexpr int64_t kChunk = 256;
    t0 = Clock::now();
    for (int64_t p = 0; p < longest; p += kChunk) {
      BatchSequence s;
      s.tokens = std::span<const int32_t>(prompt.data() + p, std::min(kChunk, longest - p));
      s.pos0 = p;
      s.kv = template_kv.view();
      s.logits = BatchSequence::Logits::kNone;
      model->forward_batch(std::span<const BatchSequence>(&s, 1), fp4::model::ForwardOptions{}, logits.data());
    }
    std::printf("- context template: %lld tokens prefilled in %.1f s\n", static_cast<long long>(longest),
                seconds_since(t0));
  }
  const fp4::model::KvSequenceView tmpl = template_kv.view();
  const int64_t row_bytes = model->kv_row_floats() * static_cast<int64_t>(sizeof(float));

  std::vector<BatchResult> results;
  for (const int64_t B : opt.batches) {
    std::vector<int64_t> context(static_cast<size_t>(B));
    int64_t total_tokens = 0;
    for (int64_t i = 0; i < B; ++i) {
      context[i] = opt.context / 2 + opt.context * (2 * i + 1) / (2 * B);
      total_tokens += context[i] + opt.steps + 1;
    }
    const int64_t block = 16;
    fp4::runtime::KvCache cache(model->num_layers(), model->kv_row_floats(), block,
                                total_tokens / block + B + 1);
    std::vector<std::unique_ptr<fp4::runtime::SequenceKv>> kvs;
    for (int64_t i = 0; i < B; ++i) {
      kvs.push_back(std::make_unique<fp4::runtime::SequenceKv>(cache));
      kvs.back()->reserve(context[i] + opt.steps + 1);
      const fp4::model::KvSequenceView v = kvs.back()->view();
      for (int64_t l = 0; l < model->num_layers(); ++l) {
        for (int64_t pos = 0; pos < context[i]; ++pos) std::memcpy(v.row(l, pos), tmpl.row(l, pos), row_bytes);
      }
    }
    std::vector<int32_t> next = random_tokens(B, V, 11 + static_cast<uint64_t>(B));
    std::vector<float> logits(static_cast<size_t>(B * V));  // [B, V]
    std::vector<fp4::model::RoutingRecord> routing;
    fp4::model::ForwardOptions fo;
    fo.routing = &routing;
    fo.nvfp4_activations = opt.int8_activations ? fp4::cpu::ActivationPrecision::kInt8 : fp4::cpu::ActivationPrecision::kF32;
    double timed = 0, cpu = 0, step_bytes = 0;
    for (int64_t step = 0; step <= opt.steps; ++step) {  // step 0 warms up and is not timed
      std::vector<BatchSequence> batch(static_cast<size_t>(B));
      uint64_t kv_bytes = 0;
      for (int64_t i = 0; i < B; ++i) {
        batch[i].tokens = std::span<const int32_t>(&next[i], 1);
        batch[i].pos0 = context[i] + step;
        batch[i].kv = kvs[i]->view();
        batch[i].logits = BatchSequence::Logits::kLast;
        kv_bytes += bytes.kv_read(batch[i].pos0 + 1);
      }
      routing.clear();
      const double cpu0 = process_cpu_seconds();
      t0 = Clock::now();
      model->forward_batch(batch, fo, logits.data());
      const double s = seconds_since(t0);
      if (step > 0) {
        timed += s;
        cpu += process_cpu_seconds() - cpu0;
        step_bytes += static_cast<double>(bytes.fixed() + bytes.routed(routing) + kv_bytes);
      }
      for (int64_t i = 0; i < B; ++i) next[i] = argmax(logits.data() + i * V, V);
    }
    BatchResult r;
    r.batch = B;
    r.seconds_per_step = timed / static_cast<double>(opt.steps);
    r.cpu_seconds_per_step = cpu / static_cast<double>(opt.steps);
    r.bytes_per_step = step_bytes / static_cast<double>(opt.steps);
    results.push_back(r);
    std::fprintf(stderr, "  batch %lld: %.1f ms/step\n", static_cast<long long>(B), r.seconds_per_step * 1e3);
  }
  return results;
}

// A synthetic checkpoint of `shape` with opt.layers layers, written to a temporary folder and removed after.
std::vector<BatchResult> run_shape(const std::string& shape, const Options& opt, fp4::ThreadPool& pool) {
  const fp4::model::SynthEncoding enc = opt.encoding == "fp8"    ? fp4::model::SynthEncoding::kFP8
                                        : opt.encoding == "bf16" ? fp4::model::SynthEncoding::kBF16
                                                                 : fp4::model::SynthEncoding::kNVFP4;
  TempDir dir{fs::path(opt.work_dir) / ("fp4_bench_batch_decode_" + shape + "_" + std::to_string(::getpid()))};
  fs::remove_all(dir.path);
  const auto t0 = Clock::now();
  const fp4::model::SynthReport synth = fp4::model::write_synthetic_checkpoint(
      fp4::model::synth_config_json(shape, opt.layers), enc, 1, dir.path.string(), pool);
  std::printf("\n## synthetic %s, %lld layers, %s\n\n- synthesized %.2f GB in %.1f s\n", shape.c_str(),
              static_cast<long long>(opt.layers), opt.encoding.c_str(), static_cast<double>(synth.bytes) / 1e9,
              seconds_since(t0));
  return run_model(dir.path.string(), opt, pool);
}

void print_table(const std::vector<BatchResult>& results, double bandwidth) {
  std::printf("\n| batch | ms/step | tokens/s | speedup vs batch 1 | CPU ms/step | CPU speedup | MB read/step | GB/s | "
              "%% of read bw |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  const BatchResult* one = nullptr;
  for (const BatchResult& r : results) {
    if (r.batch == 1) one = &r;
  }
  for (const BatchResult& r : results) {
    const double gbs = r.bytes_per_step / r.seconds_per_step / 1e9;
    char speedup[32] = "n/a", cpu_speedup[32] = "n/a";
    if (one != nullptr) {
      std::snprintf(speedup, sizeof(speedup), "%.2f×", r.tokens_per_second() / one->tokens_per_second());
      // Tokens per CPU second against batch 1's.
      std::snprintf(cpu_speedup, sizeof(cpu_speedup), "%.2f×",
                    static_cast<double>(r.batch) * one->cpu_seconds_per_step / r.cpu_seconds_per_step);
    }
    std::printf("| %lld | %.1f | %.2f | %s | %.1f | %s | %.1f | %.2f | %.0f%% |\n", static_cast<long long>(r.batch),
                r.seconds_per_step * 1e3, r.tokens_per_second(), speedup, r.cpu_seconds_per_step * 1e3, cpu_speedup,
                r.bytes_per_step / 1e6, gbs, 100.0 * gbs / bandwidth);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  fp4::bench::ArgReader args("bench_batch_decode", argc, argv);
  for (std::string a; args.next(a);) {
    if (a == "--threads") {
      opt.threads = static_cast<int>(args.integer(a));
    } else if (a == "--layers") {
      opt.layers = args.integer(a);
    } else if (a == "--context") {
      opt.context = args.integer(a);
    } else if (a == "--steps") {
      opt.steps = args.integer(a);
    } else if (a == "--batches") {
      opt.batches.clear();
      for (const std::string& b : split(args.value(a))) opt.batches.push_back(args.parse_integer(a, b));
    } else if (a == "--shapes") {
      opt.shapes = split(args.value(a));
    } else if (a == "--models") {
      opt.models = split(args.value(a));
    } else if (a == "--encoding") {
      opt.encoding = args.value(a);
    } else if (a == "--nvfp4-activations") {
      const std::string v = args.value(a);
      if (v != "f32" && v != "int8") {
        std::fprintf(stderr, "bench_batch_decode: --nvfp4-activations f32|int8, got %s\n", v.c_str());
        return 2;
      }
      opt.int8_activations = v == "int8";
    } else if (a == "--work-dir") {
      opt.work_dir = args.value(a);
    } else {
      std::fprintf(stderr,
                   "usage: bench_batch_decode [--threads N] [--layers L] [--context C] [--steps S] [--batches LIST] "
                   "[--shapes LIST] [--models DIR,...] [--encoding nvfp4|fp8|bf16] [--nvfp4-activations f32|int8] "
                   "[--work-dir DIR]\n");
      return 2;
    }
  }
  const bool batches_ok = !opt.batches.empty() && std::all_of(opt.batches.begin(), opt.batches.end(),
                                                              [](int64_t b) { return b >= 1; });
  if (opt.threads < 0 || opt.layers < 1 || opt.context < 2 || opt.steps < 1 || !batches_ok ||
      (opt.shapes.empty() && opt.models.empty()) ||
      (opt.encoding != "nvfp4" && opt.encoding != "fp8" && opt.encoding != "bf16")) {
    std::fprintf(stderr, "bench_batch_decode: --threads >= 0, --layers >= 1, --context >= 2, --steps >= 1, batches >= 1, "
                         "--encoding nvfp4|fp8|bf16\n");
    return 2;
  }

  try {
    fp4::ThreadPool pool(opt.threads);
    char date[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    std::printf("# bench_batch_decode\n\n- date: %s\n- cpu: %s, %d threads\n- command: `%s`\n"
                "- NVFP4 activations: %s; contexts spread over [%lld, %lld) tokens, mean %lld\n",
                date, fp4::runtime::cpu_model_name().c_str(), pool.size(), args.command().c_str(),
                opt.int8_activations ? "int8 (W4A8)" : "f32", static_cast<long long>(opt.context / 2),
                static_cast<long long>(opt.context / 2 + opt.context), static_cast<long long>(opt.context));
    const double load_before = fp4::runtime::load_average_1min();
    const double bandwidth = fp4::runtime::measure_read_bandwidth(pool).gb_per_second;
    std::printf("- measured read bandwidth: %.1f GB/s; load average (1 min) before: %.2f\n", bandwidth, load_before);
    auto report = [&](const std::vector<BatchResult>& results) {
      print_table(results, bandwidth);
      std::printf("\n- load average (1 min) after: %.2f\n", fp4::runtime::load_average_1min());
      std::fflush(stdout);
    };
    for (const std::string& dir : opt.models) {
      std::printf("\n## %s\n\n", dir.c_str());
      report(run_model(dir, opt, pool));
    }
    for (const std::string& shape : opt.shapes) report(run_shape(shape, opt, pool));
  } catch (const fp4::Error& e) {
    std::fprintf(stderr, "bench_batch_decode: %s\n", e.what());
    return 1;
  }
  return 0;
}
