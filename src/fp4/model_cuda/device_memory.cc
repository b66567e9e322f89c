#include "fp4/model_cuda/device_memory.h"

#include <algorithm>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/base/error.h"

namespace fp4::model_cuda {
namespace {

constexpr size_t kAlign = 256;
constexpr size_t kChunk = size_t{1} << 28;  // 256 MiB: few cudaMalloc calls, little waste at the tail

size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

}  // namespace

DeviceArena::~DeviceArena() {
  for (void* p : chunks_) cudaFree(p);
}

void* DeviceArena::take(size_t bytes, const char* what) {
  const size_t need = round_up(std::max<size_t>(bytes, 1));
  if (need > left_) {
    // A tensor of a chunk or more gets an allocation of its own, and the current chunk's tail stays usable.
    const bool own = need >= kChunk;
    const size_t size = own ? need : kChunk;
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, size);
    if (err != cudaSuccess) {
      cudaGetLastError();
      fail("GPU weights: out of device memory uploading {} ({} bytes; {:.2f} GiB uploaded so far): {}", what, bytes,
           static_cast<double>(used_) / (1u << 30), cudaGetErrorString(err));
    }
    chunks_.push_back(p);
    if (own) {
      used_ += bytes;
      return p;
    }
    cursor_ = static_cast<uint8_t*>(p);
    left_ = size;
  }
  void* out = cursor_;
  cursor_ += need;
  left_ -= need;
  used_ += bytes;
  return out;
}

void* DeviceArena::upload(const void* host, size_t bytes, const char* what) {
  void* d = take(bytes, what);
  if (bytes > 0) cuda::check_cuda(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice), what);
  return d;
}

template <typename T>
StreamArray<T>::StreamArray(int64_t count, cudaStream_t stream) : count_(count), stream_(stream) {
  FP4_CHECK(count >= 0, "GPU forward: negative buffer size {}", count);
  if (count > 0) {
    void* p = nullptr;
    const cudaError_t err = cudaMallocAsync(&p, static_cast<size_t>(count) * sizeof(T), stream);
    if (err != cudaSuccess) {
      cudaGetLastError();
      fail("GPU forward: cannot allocate {} bytes of scratch: {}", static_cast<size_t>(count) * sizeof(T),
           cudaGetErrorString(err));
    }
    ptr_ = static_cast<T*>(p);
  }
}

template <typename T>
StreamArray<T>::~StreamArray() {
  release();
}

template <typename T>
void StreamArray<T>::release() {
  if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
  ptr_ = nullptr;
  count_ = 0;
}

template <typename T>
void StreamArray<T>::upload(std::span<const T> host) {
  FP4_CHECK(static_cast<int64_t>(host.size()) <= count_, "GPU forward: uploading {} values into a buffer of {}",
            host.size(), count_);
  if (host.empty()) return;
  cuda::check_cuda(cudaMemcpyAsync(ptr_, host.data(), host.size_bytes(), cudaMemcpyHostToDevice, stream_),
                   "host → device copy");
}

template <typename T>
void StreamArray<T>::zero() {
  if (count_ > 0) {
    cuda::check_cuda(cudaMemsetAsync(ptr_, 0, static_cast<size_t>(count_) * sizeof(T), stream_), "device memset");
  }
}

template class StreamArray<float>;
template class StreamArray<int32_t>;
template class StreamArray<int64_t>;

void download(const void* device, size_t bytes, void* host, cudaStream_t stream) {
  if (bytes == 0) return;
  cuda::check_cuda(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream), "device → host copy");
  cuda::check_cuda(cudaStreamSynchronize(stream), "device → host copy (stream synchronize)");
}

void copy_rows(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t n,
               cudaStream_t stream) {
  if (rows == 0 || n == 0) return;
  cuda::check_cuda(cudaMemcpy2DAsync(dst, static_cast<size_t>(dst_stride) * sizeof(float), src,
                                     static_cast<size_t>(src_stride) * sizeof(float), static_cast<size_t>(n) * sizeof(float),
                                     static_cast<size_t>(rows), cudaMemcpyDeviceToDevice, stream),
                   "device row copy (cudaMemcpy2DAsync)");
}

}  // namespace fp4::model_cuda
