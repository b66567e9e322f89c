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

// Σ words[begin:end) with 8 independent accumulators, so the adds vectorise and never limit the loop.
// Inlined into an AVX2 wrapper (32-byte loads, as the matmul kernels use) and a baseline one.
[[gnu::always_inline]] inline uint64_t sum_words(const uint64_t* words, size_t begin, size_t end) {
  uint64_t acc[8] = {};
  for (size_t i = begin; i < end; i += 8) {
    for (size_t j = 0; j < 8; ++j) acc[j] += words[i + j];
  }
  uint64_t total = 0;
  for (uint64_t a : acc) total += a;
  return total;
}

uint64_t sum_words_baseline(const uint64_t* words, size_t begin, size_t end) { return sum_words(words, begin, end); }

#if defined(__x86_64__)
[[gnu::target("avx2")]] uint64_t sum_words_avx2(const uint64_t* words, size_t begin, size_t end) {
  return sum_words(words, begin, end);
}
bool have_avx2() { return __builtin_cpu_supports("avx2"); }
#else
uint64_t sum_words_avx2(const uint64_t* words, size_t begin, size_t end) { return sum_words(words, begin, end); }
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
  double best = 0.0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(slices, [&](int64_t s, int thread) {
      const size_t begin = static_cast<size_t>(s) * kSliceWords;
      sink[static_cast<size_t>(thread)] +=
          avx2 ? sum_words_avx2(words, begin, begin + kSliceWords) : sum_words_baseline(words, begin, begin + kSliceWords);
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(count * sizeof(uint64_t)) / seconds / 1e9);
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
