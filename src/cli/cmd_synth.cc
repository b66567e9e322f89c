// `fp4serve synth --like deepseek-v2-lite|deepseek-r1|llama-3.1-8b [--layers N] --encoding nvfp4|fp8|bf16 OUT`:
// a random-weight checkpoint of a real model's shapes, for benchmarks without downloads.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "fp4/base/thread_pool.h"
#include "fp4/model/synth.h"

namespace fp4::cli {
namespace {

struct SynthArgs {
  std::string like;
  int64_t layers = 0;
  std::string encoding = "nvfp4";
  uint64_t seed = 0;
  int threads = 0;
  std::string out;
};

int run_synth(const SynthArgs& a) {
  const model::SynthEncoding enc = a.encoding == "bf16"  ? model::SynthEncoding::kBF16
                                   : a.encoding == "fp8" ? model::SynthEncoding::kFP8
                                                         : model::SynthEncoding::kNVFP4;
  ThreadPool pool(a.threads);
  const auto t0 = std::chrono::steady_clock::now();
  const model::SynthReport r =
      model::write_synthetic_checkpoint(model::synth_config_json(a.like, a.layers), enc, a.seed, a.out, pool);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s: %lld tensors, %.2f GB in %d file(s), %.1f s\n", a.out.c_str(),
              static_cast<long long>(r.tensors), static_cast<double>(r.bytes) / 1e9, r.shards, s);
  return 0;
}

const Command kSynth{"synth", "Write a random-weight checkpoint with the shapes of a real model",
                     [](CLI::App& sub) -> Runner {
                       auto a = std::make_shared<SynthArgs>();
                       sub.add_option("--like", a->like, "Shapes to copy")
                           ->required()
                           ->check(CLI::IsMember({"deepseek-v2-lite", "deepseek-r1", "llama-3.1-8b"}));
                       sub.add_option("--layers", a->layers, "Keep only the first N decoder layers")
                           ->check(CLI::PositiveNumber);
                       sub.add_option("--encoding", a->encoding, "Weight encoding (nvfp4 uses the R1-0528-FP4 recipe)")
                           ->check(CLI::IsMember({"nvfp4", "fp8", "bf16"}));
                       sub.add_option("--seed", a->seed, "Random seed");
                       sub.add_option("--threads", a->threads, "Worker threads (0 = one per core)");
                       sub.add_option("OUT", a->out, "Output folder")->required();
                       return [a] { return run_synth(*a); };
                     }};

}  // namespace
}  // namespace fp4::cli
