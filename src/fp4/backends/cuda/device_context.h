// Host-side helpers shared by the CUDA entry points (matmul.cc, model_ops.cc): the current device, its SM
// count, and stream-ordered temporaries.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstddef>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/base/error.h"

namespace fp4::cuda {

constexpr int kMaxDevices = 64;

inline int current_device() {
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  FP4_CHECK(device >= 0 && device < kMaxDevices, "CUDA device {} is beyond the {} devices this build handles",
            device, kMaxDevices);
  return device;
}

// Streaming multiprocessors of the current device (cached per thread and device).
inline int sm_count() {
  thread_local std::array<int, kMaxDevices> cache{};
  const int device = current_device();
  if (cache[device] == 0) {
    check_cuda(cudaDeviceGetAttribute(&cache[device], cudaDevAttrMultiProcessorCount, device),
               "cudaDeviceGetAttribute(multiprocessor count)");
  }
  return cache[device];
}

// A temporary from the stream-ordered allocator, freed on the same stream when it goes out of scope (so
// calls stay capturable in CUDA graphs).
class StreamBuffer {
 public:
  StreamBuffer(size_t bytes, cudaStream_t stream, const char* what) : stream_(stream) {
    if (bytes > 0) check_cuda(cudaMallocAsync(&ptr_, bytes, stream), what);
  }
  ~StreamBuffer() {
    if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
  }
  StreamBuffer(const StreamBuffer&) = delete;
  StreamBuffer& operator=(const StreamBuffer&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace fp4::cuda
