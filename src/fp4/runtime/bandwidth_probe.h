// The machine's memory read bandwidth, measured the way the matmul benchmark measures it: a
// multi-threaded streaming sum over a buffer far larger than the last-level cache, best of a few passes,
// each pass reading the buffer once as one sequential stream per task and once as four interleaved ones.
// It is the roofline for batch-1 decode, which streams every touched weight once per token.
#pragma once

#include <cstddef>
#include <string>

#include "fp4/base/thread_pool.h"

namespace fp4::runtime {

struct BandwidthMeasurement {
  double gb_per_second = 0;  // best pass, 1 GB = 1e9 bytes
  size_t buffer_bytes = 0;
  int passes = 0;
  int threads = 0;
  const char* method = "streaming sum";  // what was timed (a GPU model's probe: "device-to-device copy")
};

// Reads `buffer_bytes` (0: max(256 MiB, 8 × last-level cache), since some LLCs keep part of a cyclic
// working set and 2-4× is not enough) `passes` times with every thread of `pool` and keeps the fastest
// pass. Throws fp4::Error when the buffer cannot be allocated or passes < 1.
BandwidthMeasurement measure_read_bandwidth(ThreadPool& pool, size_t buffer_bytes = 0, int passes = 5);

// Size in bytes of the largest CPU cache sysfs reports for cpu0 (0 when unknown).
size_t last_level_cache_bytes();

// "model name" of /proc/cpuinfo, or "unknown".
std::string cpu_model_name();

// The 1-minute load average of /proc/loadavg (negative when unreadable): other work on the machine
// makes a bandwidth-bound measurement contended.
double load_average_1min();

}  // namespace fp4::runtime
