// Matmul benchmark: y = x·Wᵀ for the CPU fast path on DeepSeek-V2-Lite and DeepSeek-R1 layer shapes, in
// every weight encoding, against the machine's memory read bandwidth measured in the same run.
//
//   bench_matmul [--threads N] [--working-set-mib MIB] [--min-seconds S] [--prefill-m M] [--quick]
//                [--encodings nvfp4,fp8-block,bf16,f16,f32] [--target AVX3_DL|AVX3|AVX2|SSE4|...]
//
// --target forces a lower SIMD target than the CPU's best, to compare code paths on one machine.
//
// Decode (M = 1) is memory-bound: the figure of merit is weight bytes (data + scales) read per second as
// a fraction of the measured read bandwidth. Both are the best of several passes over the working set. To keep caches out of it, each case allocates several
// distinct copies of the weight totalling at least --working-set-mib (default: 8x the last-level cache,
// at least 256 MiB: some LLCs keep part of a cyclic working set, so 2-4x is not enough)
// and cycles through them. Prefill (M = --prefill-m, default 512) is compute-bound: GFLOP/s = 2·M·N·K / t.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_args.h"
#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/ops/matmul.h"
#include "fp4/runtime/bandwidth_probe.h"
#include "hwy/targets.h"

namespace {

using fp4::WeightEncoding;
using fp4::WeightView;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// 64-byte aligned, never-zero-initialised byte buffer (filled by the caller).
struct Buffer {
  std::unique_ptr<uint8_t, decltype(&std::free)> ptr{nullptr, &std::free};
  size_t size = 0;
  explicit Buffer(size_t bytes) : size(bytes) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    ptr.reset(static_cast<uint8_t*>(std::aligned_alloc(64, std::max<size_t>(rounded, 64))));
    FP4_CHECK(ptr != nullptr, "bench_matmul: cannot allocate {} bytes", bytes);
  }
  uint8_t* data() const { return ptr.get(); }
};

// xorshift64*: fast, deterministic filler.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1DULL;
  }
};


struct Shape {
  const char* model;
  const char* name;
  int64_t N;  // out features
  int64_t K;  // in features
};

// One weight copy in an encoding, filled with finite, normal-range values (no NaN codes, no denormals
// that could slow f32 arithmetic).
struct WeightCopy {
  Buffer data;
  Buffer scales;
  WeightView view;
};

size_t data_bytes(WeightEncoding e, int64_t N, int64_t K) {
  switch (e) {
    case WeightEncoding::kF32: return static_cast<size_t>(N * K) * 4;
    case WeightEncoding::kBF16:
    case WeightEncoding::kF16: return static_cast<size_t>(N * K) * 2;
    case WeightEncoding::kFP8Block: return static_cast<size_t>(N * K);
    case WeightEncoding::kNVFP4: return static_cast<size_t>(N * K / 2);
  }
  return 0;
}

size_t scale_bytes(WeightEncoding e, int64_t N, int64_t K) {
  if (e == WeightEncoding::kFP8Block) return static_cast<size_t>(((N + 127) / 128) * ((K + 127) / 128)) * 4;
  if (e == WeightEncoding::kNVFP4) return static_cast<size_t>(N * K / 16);
  return 0;
}

std::unique_ptr<WeightCopy> make_copy(WeightEncoding e, int64_t N, int64_t K, uint64_t seed) {
  auto c = std::make_unique<WeightCopy>(WeightCopy{Buffer(data_bytes(e, N, K)), Buffer(scale_bytes(e, N, K)), {}});
  Rng rng{seed * 0x9E3779B97F4A7C15ULL + 1};
  uint8_t* d = c->data.data();
  const size_t n = c->data.size;
  switch (e) {
    case WeightEncoding::kF32:
      for (size_t i = 0; i < n / 4; ++i) {
        const float v = static_cast<float>(static_cast<int64_t>(rng.next() % 2001) - 1000) * 1e-3f;
        std::memcpy(d + 4 * i, &v, 4);
      }
      break;
    case WeightEncoding::kBF16:
    case WeightEncoding::kF16:
      for (size_t i = 0; i < n / 2; ++i) {
        // |value| in [2^-3, 2^0): sign, mantissa random, exponent fixed range.
        const uint16_t r = static_cast<uint16_t>(rng.next());
        const uint16_t bits = e == WeightEncoding::kBF16 ? static_cast<uint16_t>((r & 0x80FF) | 0x3E00)
                                                         : static_cast<uint16_t>((r & 0x83FF) | 0x3000);
        std::memcpy(d + 2 * i, &bits, 2);
      }
      break;
    case WeightEncoding::kFP8Block:
      for (size_t i = 0; i < n; ++i) {
        uint8_t b = static_cast<uint8_t>(rng.next());
        if ((b & 0x7F) == 0x7F) b ^= 1;  // not NaN
        d[i] = b;
      }
      break;
    case WeightEncoding::kNVFP4:
      for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(rng.next());
      break;
  }
  c->view.encoding = e;
  c->view.rows = N;
  c->view.cols = K;
  c->view.data = d;
  if (e == WeightEncoding::kFP8Block) {
    auto* s = reinterpret_cast<float*>(c->scales.data());
    for (size_t i = 0; i < c->scales.size / 4; ++i) s[i] = 1e-3f * static_cast<float>(1 + rng.next() % 16);
    c->view.block_scale_inv = s;
  } else if (e == WeightEncoding::kNVFP4) {
    uint8_t* s = c->scales.data();
    for (size_t i = 0; i < c->scales.size; ++i) s[i] = static_cast<uint8_t>(0x20 + rng.next() % 0x40);  // normal UE4M3
    c->view.block_scale = s;
    c->view.global_scale = 1.0f / (6.0f * 448.0f);
  }
  return c;
}

struct Options {
  int threads = 0;
  double working_set_mib = 0;  // 0: max(256 MiB, 8 x LLC)
  double min_seconds = 0.5;
  int64_t prefill_m = 512;
  bool quick = false;
  std::string encodings = "nvfp4,nvfp4-f32,fp8-block,bf16,f16,f32";
  std::string target;
};


}  // namespace

int main(int argc, char** argv) {
  Options opt;
  fp4::bench::ArgReader args("bench_matmul", argc, argv);
  for (std::string a; args.next(a);) {
    if (a == "--threads") {
      opt.threads = static_cast<int>(args.integer(a));
    } else if (a == "--working-set-mib") {
      opt.working_set_mib = args.number(a);
    } else if (a == "--min-seconds") {
      opt.min_seconds = args.number(a);
    } else if (a == "--prefill-m") {
      opt.prefill_m = args.integer(a);
    } else if (a == "--encodings") {
      opt.encodings = args.value(a);
    } else if (a == "--target") {
      opt.target = args.value(a);
    } else if (a == "--quick") {
      opt.quick = true;
    } else {
      std::fprintf(stderr,
                   "usage: bench_matmul [--threads N] [--working-set-mib MIB] [--min-seconds S] [--prefill-m M] "
                   "[--quick] [--encodings LIST] [--target NAME]\n");
      return 2;
    }
  }
  if (opt.threads < 0 || opt.working_set_mib < 0 || opt.min_seconds <= 0 || opt.prefill_m < 1) {
    std::fprintf(stderr, "bench_matmul: --threads >= 0, --working-set-mib >= 0, --min-seconds > 0, --prefill-m >= 1\n");
    return 2;
  }

  if (!opt.target.empty()) {
    int64_t chosen = 0;
    for (int64_t bit = 1; bit != 0 && bit <= (int64_t{1} << 62); bit <<= 1) {
      if ((hwy::SupportedTargets() & bit) != 0 && opt.target == hwy::TargetName(bit)) chosen = bit;
    }
    if (chosen == 0) {
      std::fprintf(stderr, "bench_matmul: --target %s is not a SIMD target this CPU supports\n", opt.target.c_str());
      return 2;
    }
    hwy::SetSupportedTargetsForTest(chosen);
  }

  try {
    fp4::ThreadPool pool(opt.threads);
    const size_t llc = fp4::runtime::last_level_cache_bytes();
    if (opt.working_set_mib == 0) opt.working_set_mib = std::max(256.0, 8.0 * static_cast<double>(llc) / 1048576.0);
    const size_t working_set = static_cast<size_t>(opt.working_set_mib * 1024 * 1024);
    char date[64];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    std::printf("# bench_matmul\n\n- date: %s\n- cpu: %s (last-level cache %.0f MiB)\n- threads: %d\n"
                "- simd target: %s\n- command: `%s`\n",
                date, fp4::runtime::cpu_model_name().c_str(), static_cast<double>(llc) / 1048576.0, pool.size(),
                fp4::cpu::matmul_target_name(), args.command().c_str());
    const double bandwidth =
        fp4::runtime::measure_read_bandwidth(pool, std::max<size_t>(working_set, 256u << 20)).gb_per_second;
    std::printf("- measured read bandwidth: %.1f GB/s (%d threads, streaming sum over %.0f MiB, best of 5)\n",
                bandwidth, pool.size(), std::max<size_t>(working_set, 256u << 20) / 1048576.0);
    std::printf("- working set per decode case: >= %.0f MiB of distinct weight copies, cycled\n\n", opt.working_set_mib);

    std::vector<Shape> shapes = {
        {"V2-Lite", "expert gate/up", 1408, 2048},
        {"V2-Lite", "expert down", 2048, 1408},
        {"V2-Lite", "dense gate/up", 10944, 2048},
        {"V2-Lite", "dense down", 2048, 10944},
        {"V2-Lite", "attn q_proj", 3072, 2048},
        {"V2-Lite", "attn kv_a_proj", 576, 2048},
        {"V2-Lite", "attn kv_b_proj", 4096, 512},
        {"V2-Lite", "attn o_proj", 2048, 2048},
        {"R1", "expert gate/up", 2048, 7168},
        {"R1", "expert down", 7168, 2048},
    };
    if (opt.quick) shapes = {shapes[0], shapes[8]};
    // A case is an encoding plus, for NVFP4, the activation precision: "nvfp4" runs the int8 dot-product
    // path (W4A8), "nvfp4-f32" the exact f32-activation path the models use by default.
    struct Case {
      std::string label;
      WeightEncoding encoding;
      fp4::cpu::MatmulOptions options;
    };
    const std::vector<Case> all_cases = {
        {"nvfp4", WeightEncoding::kNVFP4, {fp4::cpu::ActivationPrecision::kInt8}},
        {"nvfp4-f32", WeightEncoding::kNVFP4, {fp4::cpu::ActivationPrecision::kF32}},
        {"fp8-block", WeightEncoding::kFP8Block, {}},
        {"bf16", WeightEncoding::kBF16, {}},
        {"f16", WeightEncoding::kF16, {}},
        {"f32", WeightEncoding::kF32, {}},
    };
    std::vector<Case> cases;
    for (const Case& c : all_cases) {
      std::string_view list = opt.encodings;
      while (!list.empty()) {
        const size_t comma = list.find(',');
        if (list.substr(0, comma) == c.label) cases.push_back(c);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      }
    }
    FP4_CHECK(!cases.empty(), "--encodings {}: none of nvfp4, nvfp4-f32, fp8-block, bf16, f16, f32", opt.encodings);

    std::printf("| encoding | model | weight | N x K | M | time/call | GB/s | %% of read bw | GFLOP/s |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    for (const Case& bench_case : cases) {
      const WeightEncoding enc = bench_case.encoding;
      for (const Shape& s : shapes) {
        const size_t per_copy = data_bytes(enc, s.N, s.K) + scale_bytes(enc, s.N, s.K);
        const size_t copies = std::max<size_t>(2, (working_set + per_copy - 1) / per_copy);
        std::vector<std::unique_ptr<WeightCopy>> weights(copies);
        pool.parallel_for(static_cast<int64_t>(copies), [&](int64_t c, int) {
          weights[static_cast<size_t>(c)] = make_copy(enc, s.N, s.K, static_cast<uint64_t>(c) + 1);
        });
        const int64_t max_m = opt.prefill_m;
        std::vector<float> x(static_cast<size_t>(max_m * s.K));
        Rng rng{7};
        for (auto& v : x) v = static_cast<float>(static_cast<int64_t>(rng.next() % 2001) - 1000) * 1e-3f;
        std::vector<float> y(static_cast<size_t>(max_m * s.N));

        for (int64_t M : {int64_t{1}, max_m}) {
          // Warm up (page faults, thread wake-up), then time whole passes over the copies (a pass reads
          // the whole working set, like one pass of the bandwidth measurement) and keep the best pass,
          // the same statistic as the bandwidth's best of 5.
          fp4::cpu::matmul(pool, weights[0]->view, x.data(), M, y.data(), bench_case.options);
          const size_t calls_per_pass = M == 1 ? copies : 1;
          double per_call = 1e30;
          double elapsed = 0.0;
          for (int pass = 0; pass < 3 || elapsed < opt.min_seconds; ++pass) {
            const auto t0 = Clock::now();
            for (size_t c = 0; c < calls_per_pass; ++c) {
              fp4::cpu::matmul(pool, weights[c % copies]->view, x.data(), M, y.data(), bench_case.options);
            }
            const double t = seconds_since(t0);
            elapsed += t;
            per_call = std::min(per_call, t / static_cast<double>(calls_per_pass));
          }
          const double gbps = static_cast<double>(per_copy) / per_call / 1e9;
          const double gflops = 2.0 * static_cast<double>(M * s.N * s.K) / per_call / 1e9;
          char time_text[32];
          if (per_call < 1e-3) {
            std::snprintf(time_text, sizeof(time_text), "%.1f us", per_call * 1e6);
          } else {
            std::snprintf(time_text, sizeof(time_text), "%.2f ms", per_call * 1e3);
          }
          std::printf("| %s | %s | %s | %lld x %lld | %lld | %s | %.1f | %.0f%% | %.1f |\n",
                      bench_case.label.c_str(), s.model, s.name, static_cast<long long>(s.N),
                      static_cast<long long>(s.K), static_cast<long long>(M), time_text, gbps,
                      100.0 * gbps / bandwidth, gflops);
          std::fflush(stdout);
        }
      }
    }
  } catch (const fp4::Error& e) {
    std::fprintf(stderr, "bench_matmul: %s\n", e.what());
    return 1;
  }
  return 0;
}
