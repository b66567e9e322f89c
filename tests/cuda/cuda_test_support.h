// Shared harness of the GPU op tests (test_cuda_ops.cc, test_cuda_model_ops.cc): device arrays that can
// be poisoned with NaN, element-wise comparison against a per-element bound, and the random source.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace fp4::cuda_test {

constexpr double kU = 0x1p-24;          // f32 unit roundoff
constexpr double kBf16U = 0x1p-8;       // bf16 unit roundoff: 8 significant bits, RNE (f32 x → bf16)
constexpr double kFloor = 1e-30;        // absolute slack for results that underflow (far below any real value)

inline void cuda_ok(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(err));
    std::exit(1);
  }
}

template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count) : count_(count) { cuda_ok(cudaMalloc(reinterpret_cast<void**>(&ptr_), bytes() ? bytes() : 1), "cudaMalloc"); }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) {
    cuda_ok(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice), "upload");
  }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return ptr_; }
  size_t bytes() const { return count_ * sizeof(T); }
  void poison() { cuda_ok(cudaMemset(ptr_, 0xFF, bytes()), "poison"); }  // all-ones bits: NaN for f32
  std::vector<T> download() const {
    std::vector<T> host(count_);
    cuda_ok(cudaDeviceSynchronize(), "kernel");
    cuda_ok(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost), "download");
    return host;
  }

 private:
  T* ptr_ = nullptr;
  size_t count_;
};

struct Tally {
  int cases = 0;
  int failed = 0;
  double worst = 0.0;  // largest |error| / bound seen
};

// Compares element by element; prints the first few violations.
inline bool compare(const std::string& name, const std::vector<float>& got, const std::vector<float>& ref,
             const std::vector<double>& bound, Tally& tally) {
  ++tally.cases;
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - ref[i]);
    const bool ok = std::isfinite(got[i]) && err <= bound[i];
    if (bound[i] > 0) tally.worst = std::max(tally.worst, err / bound[i]);
    if (!ok) {
      if (bad < 5) {
        std::printf("  FAIL %s: element %zu got %.9g want %.9g (|err| %.3g > bound %.3g)\n", name.c_str(), i, got[i],
                    ref[i], err, bound[i]);
      }
      ++bad;
    }
  }
  if (bad > 0) {
    ++tally.failed;
    std::printf("  FAIL %s: %d of %zu elements out of bound\n", name.c_str(), bad, ref.size());
  }
  return bad == 0;
}

// γ_d = d·u / (1 − d·u): the bound on the relative error of d successive roundings.
inline double gamma_d(double d, double u) { return d * u / (1.0 - d * u); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  int uniform_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen_); }
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen_); }
  uint8_t byte() { return static_cast<uint8_t>(gen_() & 0xFF); }

 private:
  std::mt19937_64 gen_;
};

inline void report(const char* group, const Tally& t) {
  std::printf("%-28s %4d cases  %s  (largest |err|/bound %.3f)\n", group, t.cases, t.failed ? "FAIL" : "ok  ",
              t.worst);
}

// The model-op tests (test_cuda_model_ops.cc); returns the number of failed groups.
int test_model_ops(bool quick, Rng& rng);
// The MoE op tests (test_cuda_moe_ops.cc); returns the number of failed groups.
int test_moe_ops(bool quick, Rng& rng);

}  // namespace fp4::cuda_test
