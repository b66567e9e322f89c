#include "fp4/runtime/bandwidth_probe.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <vector>

#include "fp4/base/error.h"

namespace fp4::runtime {
namespace {

// Σ words[begin:end) read as kStreams equal parts walked in lockstep, 8 independent accumulators per part.
// One sequential stream per thread leaves the line fetches in flight to the hardware prefetcher; a matmul
// tile reads several weight rows at once and keeps more fetches in flight, and on some machines streams
// faster than a single-stream sum (measured: BF16 decode at 124% of it). The probe runs both shapes and
// keeps the faster, so it is a ceiling for the kernels rather than a sample of one access pattern.
// Inlined into an AVX2 wrapper (32-byte loads, as the matmul kernels use) and a baseline one.
template <size_t kStreams>
[[gnu::always_inline]] inline uint64_t sum_words(const uint64_t* words, size_t begin, size_t end) {
  const size_t part = (end - begin) / kStreams;  // a multiple of 8: slices are 4 MiB
  uint64_t acc[kStreams][8] = {};
  for (size_t i = 0; i < part; i += 8) {
    for (size_t p = 0; p < kStreams; ++p) {
      for (size_t j = 0; j < 8; ++j) acc[p][j] += words[begin + p * part + i + j];
    }
  }
  uint64_t total = 0;
  for (const auto& a : acc) {
    for (uint64_t v : a) total += v;
  }
  return total;
}

using SumFn = uint64_t (*)(const uint64_t*, size_t, size_t);

template <size_t kStreams>
uint64_t sum_words_baseline(const uint64_t* words, size_t begin, size_t end) {
  return sum_words<kStreams>(words, begin, end);
}

#if defined(__x86_64__)
template <size_t kStreams>
[[gnu::target("avx2")]] uint64_t sum_words_avx2(const uint64_t* words, size_t begin, size_t end) {
  return sum_words<kStreams>(words, begin, end);
}
bool have_avx2() { return __builtin_cpu_supports("avx2"); }
#else
template <size_t kStreams>
uint64_t sum_words_avx2(const uint64_t* words, size_t begin, size_t end) {
  return sum_words<kStreams>(words, begin, end);
}
bool have_avx2() { return false; }
#endif

}  // namespace

BandwidthMeasurement measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes, int passes) {
  FP4_CHECK(passes >= 1, "bandwidth probe: passes {} must be at least 1", passes);
  if (buffer_bytes == 0) buffer_bytes = std::max<size_t>(size_t{256} << 20, 8 * last_level_cache_bytes());
  constexpr size_t kSliceWords = (size_t{4} << 20) / 8;  // 4 MiB tasks, handed out as matmul row ranges are
  const size_t count = std::max<size_t>(buffer_bytes / 8 / kSliceWords, 1) * kSliceWords;
  std::unique_ptr<uint64_t, decltype(&std::free)> buffer(
      static_cast<uint64_t*>(std::aligned_alloc(64, count * sizeof(uint64_t))), &std::free);
  FP4_CHECK(buffer != nullptr, "bandwidth probe: cannot allocate {} bytes", count * sizeof(uint64_t));
  uint64_t* words = buffer.get();
  const int64_t slices = static_cast<int64_t>(count / kSliceWords);
  // First touch from the threads that will read it (page placement), with data the sum cannot predict.
  pool.parallel_for(slices, [&](int64_t s, int) {
    for (size_t i = static_cast<size_t>(s) * kSliceWords, e = i + kSliceWords; i < e; ++i) {
      words[i] = i * 0x9E3779B97F4A7C15ULL;
    }
  });
  std::vector<uint64_t> sink(static_cast<size_t>(pool.size()));
  const bool avx2 = have_avx2();
  const SumFn patterns[] = {avx2 ? sum_words_avx2<1> : sum_words_baseline<1>,
                            avx2 ? sum_words_avx2<4> : sum_words_baseline<4>};
  double best = 0.0;
  for (int pass = 0; pass < passes; ++pass) {
    for (const SumFn sum : patterns) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.parallel_for(slices, [&](int64_t s, int thread) {
        const size_t begin = static_cast<size_t>(s) * kSliceWords;
        sink[static_cast<size_t>(thread)] += sum(words, begin, begin + kSliceWords);
      });
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, static_cast<double>(count * sizeof(uint64_t)) / seconds / 1e9);
    }
  }
  // Keeps the sums observable so the reads cannot be optimised away.
  uint64_t total = 0;
  for (uint64_t v : sink) total += v;
  asm volatile("" : : "r"(total) : "memory");
  return {best, count * sizeof(uint64_t), passes, pool.size()};
}

size_t last_level_cache_bytes() {
  size_t best = 0;
  for (int index = 0; index < 8; ++index) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/size");
    std::string text;
    if (!(f >> text) || text.empty()) continue;
    size_t value = std::strtoull(text.c_str(), nullptr, 10);
    if (text.back() == 'K') value <<= 10;
    if (text.back() == 'M') value <<= 20;
    best = std::max(best, value);
  }
  return best;
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

double load_average_1min() {
  std::ifstream f("/proc/loadavg");
  double load = -1.0;
  if (!(f >> load)) return -1.0;
  return load;
}

}  // namespace fp4::runtime
