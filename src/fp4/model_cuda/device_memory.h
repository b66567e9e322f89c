// Device memory for the GPU models: a bump arena for the weights (uploaded once, freed with the model)
// and stream-ordered temporaries for one forward pass.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace fp4::model_cuda {

// Weights live here: large chunks from cudaMalloc, handed out in 256-byte aligned pieces (every kernel's
// alignment need is ≤ 16 bytes). Nothing is freed before the arena itself.
class DeviceArena {
 public:
  DeviceArena() = default;
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;

  // Copies `bytes` bytes of host memory (e.g. an mmap'd checkpoint tensor) to a fresh device piece.
  // `what` names the tensor in the error when the device is out of memory.
  void* upload(const void* host, size_t bytes, const char* what);
  template <typename T>
  T* upload(std::span<const T> host, const char* what) {
    return static_cast<T*>(upload(host.data(), host.size_bytes(), what));
  }
  uint64_t bytes() const { return used_; }

 private:
  void* take(size_t bytes, const char* what);

  std::vector<void*> chunks_;
  uint8_t* cursor_ = nullptr;
  size_t left_ = 0;
  uint64_t used_ = 0;
};

// A device array of T allocated on a stream (cudaMallocAsync) and released on it when it goes out of
// scope: kernels enqueued before the release finish first. Zero-length arrays hold no pointer.
template <typename T>
class StreamArray {
 public:
  StreamArray() = default;
  StreamArray(int64_t count, cudaStream_t stream);
  ~StreamArray();
  StreamArray(const StreamArray&) = delete;
  StreamArray& operator=(const StreamArray&) = delete;
  StreamArray(StreamArray&& other) noexcept : ptr_(other.ptr_), count_(other.count_), stream_(other.stream_) {
    other.ptr_ = nullptr;
    other.count_ = 0;
  }
  StreamArray& operator=(StreamArray&& other) noexcept {
    if (this != &other) {
      release();
      ptr_ = other.ptr_;
      count_ = other.count_;
      stream_ = other.stream_;
      other.ptr_ = nullptr;
      other.count_ = 0;
    }
    return *this;
  }

  T* get() const { return ptr_; }
  int64_t size() const { return count_; }
  // Enqueues a copy of host values; the host buffer may be reused when this returns (pageable
  // memory is staged before cudaMemcpyAsync returns).
  void upload(std::span<const T> host);
  void zero();

 private:
  void release();

  T* ptr_ = nullptr;
  int64_t count_ = 0;
  cudaStream_t stream_ = nullptr;
};

// A StreamArray holding a copy of host values.
template <typename T>
StreamArray<T> to_device(std::span<const T> host, cudaStream_t stream) {
  StreamArray<T> a(static_cast<int64_t>(host.size()), stream);
  a.upload(host);
  return a;
}

// Copies count values from device to host and waits for the stream.
void download(const void* device, size_t bytes, void* host, cudaStream_t stream);

// 2-D strided copy on the device (cudaMemcpy2DAsync in floats): rows of n floats.
void copy_rows(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t n,
               cudaStream_t stream);

}  // namespace fp4::model_cuda
