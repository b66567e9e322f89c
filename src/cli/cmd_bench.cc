// `fp4serve bench -m DIR [--prompt-tokens 512] [--decode-tokens 64] [--threads N] [--json]`: prefill and
// batch-1 decode speed of one model, the bytes each decode step reads, and how close that comes to the
// memory read bandwidth measured in the same run (DESIGN.md §6).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include "cli/command.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/model_config.h"
#include "fp4/model/model.h"
#include "fp4/runtime/bandwidth_probe.h"
#include "fp4/runtime/load_model.h"
#include "fp4/runtime/model_bench.h"

namespace fp4::cli {
namespace {

struct BenchArgs {
  std::string model_dir;
  int64_t prompt_tokens = 512;
  int64_t decode_tokens = 64;
  int threads = 0;
  uint64_t seed = 1;
  bool json = false;
  std::string nvfp4_activations = "f32";
  std::string device = "cpu";
};

double mb(uint64_t bytes) { return static_cast<double>(bytes) / 1e6; }

std::string utc_now() {
  char text[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return text;
}

int run_bench(const BenchArgs& a) {
  ThreadPool pool(a.threads);
  const io::ModelConfig config = io::load_model_config(a.model_dir);
  const io::HfCheckpoint header = io::HfCheckpoint::open(a.model_dir, io::HfCheckpoint::Mode::kHeaderOnly);
  const runtime::DecodeByteCount bytes = runtime::count_decode_bytes(header, config);
  std::unique_ptr<model::Model> m = runtime::load_model(a.model_dir, pool, runtime::parse_device(a.device));

  runtime::ModelBenchOptions opt;
  opt.prompt_tokens = a.prompt_tokens;
  opt.decode_tokens = a.decode_tokens;
  opt.seed = a.seed;
  opt.nvfp4_activations =
      a.nvfp4_activations == "int8" ? cpu::ActivationPrecision::kInt8 : cpu::ActivationPrecision::kF32;
  const runtime::ModelBenchResult r = runtime::run_model_bench(*m, bytes, pool, opt);

  double routed = 0, kv = 0;
  for (const auto& s : r.steps) {
    routed += static_cast<double>(s.routed_bytes);
    kv += static_cast<double>(s.kv_bytes);
  }
  routed /= static_cast<double>(r.steps.size());
  kv /= static_cast<double>(r.steps.size());
  const double tps = r.decode_tokens_per_second();
  const double gbps = r.achieved_gb_per_second();
  const double roofline_tps = r.bandwidth().gb_per_second * 1e9 / r.bytes_per_token();
  const uint64_t file_bytes = header.file_bytes();
  const double rss_ratio = static_cast<double>(r.peak_rss_bytes) / static_cast<double>(file_bytes + r.kv_cache_bytes);

  if (a.json) {
    nlohmann::json j = {
        {"model", m->describe()},
        {"date", utc_now()},
        {"cpu", runtime::cpu_model_name()},
        {"threads", pool.size()},
        {"load_average_1min", {{"before", r.load_average_before}, {"after", r.load_average_after}}},
        {"bandwidth_gb_per_s", r.bandwidth().gb_per_second},
        {"bandwidth_gb_per_s_before_after", {r.bandwidth_before.gb_per_second, r.bandwidth_after.gb_per_second}},
        {"bandwidth_buffer_bytes", r.bandwidth().buffer_bytes},
        {"bandwidth_method", r.bandwidth().method},
        {"prefill", {{"tokens", r.prompt_tokens}, {"seconds", r.prefill_seconds}, {"tokens_per_s", r.prefill_tokens_per_second()}}},
        {"decode",
         {{"tokens", r.steps.size()},
          {"seconds", r.decode_seconds()},
          {"tokens_per_s", tps},
          {"ms_per_token", 1e3 / tps},
          {"bytes_per_token", r.bytes_per_token()},
          {"fixed_bytes_per_token", r.fixed_bytes},
          {"routed_bytes_per_token_measured", routed},
          {"routed_bytes_per_token_expected", r.expected_routed_bytes},
          {"kv_bytes_per_token", kv},
          {"achieved_gb_per_s", gbps},
          {"percent_of_bandwidth", 100.0 * gbps / r.bandwidth().gb_per_second},
          {"roofline_tokens_per_s", roofline_tps}}},
        {"memory",
         {{"peak_rss_bytes", r.peak_rss_bytes},
          {"file_bytes", file_bytes},
          {"kv_cache_bytes", r.kv_cache_bytes},
          {"peak_rss_over_file_plus_kv", rss_ratio}}},
    };
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model: %s\n", m->describe().c_str());
  std::printf("NVFP4 activations: %s\n", a.nvfp4_activations == "int8" ? "int8 per 16 (W4A8)" : "f32 (exact)");
  std::printf("date: %s; cpu: %s; threads: %d; load average (1 min) %.2f before, %.2f after\n", utc_now().c_str(),
              runtime::cpu_model_name().c_str(), pool.size(), r.load_average_before, r.load_average_after);
  std::printf("measured read bandwidth: %.2f GB/s (%s over %.0f MiB, best of %d; %.2f before prefill, "
              "%.2f after decode, the higher is used)\n\n",
              r.bandwidth().gb_per_second, r.bandwidth().method,
              static_cast<double>(r.bandwidth().buffer_bytes) / 1048576.0,
              r.bandwidth().passes, r.bandwidth_before.gb_per_second, r.bandwidth_after.gb_per_second);
  std::printf("| phase | tokens | time | tokens/s | ms/token | MB/token | GB/s | %% of read bw |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  std::printf("| prefill | %lld | %.2f s | %.1f | %.2f | | | |\n", static_cast<long long>(r.prompt_tokens),
              r.prefill_seconds, r.prefill_tokens_per_second(), 1e3 / r.prefill_tokens_per_second());
  std::printf("| decode (batch 1) | %zu | %.2f s | %.2f | %.1f | %.1f | %.2f | %.0f%% |\n\n", r.steps.size(),
              r.decode_seconds(), tps, 1e3 / tps, r.bytes_per_token() / 1e6, gbps, 100.0 * gbps / r.bandwidth().gb_per_second);
  std::printf("decode bytes per token: %.1f MB fixed (embedding row %.3f, attention %.1f, absorbed kv_b %.1f, dense MLP "
              "%.1f, routers %.1f, shared experts %.1f, norms %.2f, lm_head %.1f) + %.1f MB routed experts (measured "
              "from the experts selected each step; expected top-k mean %.1f) + %.1f MB KV cache\n",
              mb(r.fixed_bytes), mb(bytes.embedding_row), mb(bytes.attention), mb(bytes.absorbed_kv_b),
              mb(bytes.dense_mlp), mb(bytes.router), mb(bytes.shared_experts), mb(bytes.norms), mb(bytes.head),
              routed / 1e6, mb(r.expected_routed_bytes), kv / 1e6);
  std::printf("roofline at the measured bandwidth: %.2f tokens/s\n", roofline_tps);
  std::printf("peak RSS (VmHWM): %.1f MB vs file %.1f MB + KV cache %.1f MB = %.2fx\n", mb(r.peak_rss_bytes),
              mb(file_bytes), mb(r.kv_cache_bytes), rss_ratio);
  return 0;
}

const Command kBench{
    "bench", "Prefill and batch-1 decode speed, bytes per token and % of the measured memory bandwidth",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<BenchArgs>();
      sub.add_option("-m,--model", a->model_dir, "Hugging Face model folder")->required()->check(CLI::ExistingDirectory);
      sub.add_option("--prompt-tokens", a->prompt_tokens, "Prefill prompt length (seeded random ids)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--decode-tokens", a->decode_tokens, "Greedy decode steps at batch 1")->check(CLI::PositiveNumber);
      sub.add_option("--threads", a->threads, "Worker threads (0 = one per core)")->check(CLI::NonNegativeNumber);
      sub.add_option("--device", a->device, "Where the model runs: cpu (default) or cuda (the whole forward pass on GPU 0)")
          ->check(CLI::IsMember({"cpu", "cuda"}));
      sub.add_option("--seed", a->seed, "Seed of the random prompt");
      sub.add_flag("--json", a->json, "Print the results as JSON");
      sub.add_option("--nvfp4-activations", a->nvfp4_activations,
                     "NVFP4 linears: f32 (default; exact) or int8 (W4A8 dot products, faster)")
          ->check(CLI::IsMember({"f32", "int8"}));
      return [a] { return run_bench(*a); };
    }};

}  // namespace
}  // namespace fp4::cli
