// Row kernels of a forward pass: the residual add, the gathers and weighted scatter-adds of a
// mixture-of-experts layer, and writes of new K/V rows into the paged pool. Each is memory-bound: a 2-D
// grid (columns × rows) where consecutive threads touch consecutive floats of one row, so every warp
// access is one coalesced span. The arithmetic is one f32 rounding per operation with contraction
// disabled (__fmul_rn, __fadd_rn), so results equal the scalar `y + w·x` bit for bit.
#include <cstdint>

#include "model_kernels.h"

namespace fp4::cuda::detail {
namespace {

constexpr int kRowThreads = 256;
constexpr int64_t kMaxGridY = 65535;

// Grid: x covers the n columns (one thread each), y strides over the rows.
dim3 row_grid(int64_t rows, int64_t n) {
  const int64_t col_blocks = (n + kRowThreads - 1) / kRowThreads;
  return dim3(static_cast<unsigned>(col_blocks), static_cast<unsigned>(rows < kMaxGridY ? rows : kMaxGridY), 1);
}

__global__ void add_rows_kernel(float* y, int64_t y_stride, const float* __restrict__ x, int64_t x_stride,
                                int64_t rows, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(kRowThreads) + threadIdx.x;
  if (i >= n) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    y[r * y_stride + i] = __fadd_rn(y[r * y_stride + i], x[r * x_stride + i]);
  }
}

__global__ void gather_rows_kernel(const float* __restrict__ src, int64_t src_stride, const int32_t* __restrict__ index,
                                   int64_t count, int64_t n, float* __restrict__ dst, int64_t dst_stride) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(kRowThreads) + threadIdx.x;
  if (i >= n) return;
  for (int64_t r = blockIdx.y; r < count; r += gridDim.y) {
    dst[r * dst_stride + i] = src[static_cast<int64_t>(index[r]) * src_stride + i];
  }
}

__global__ void scatter_add_rows_kernel(const float* __restrict__ x, int64_t x_stride,
                                        const int32_t* __restrict__ index, const float* __restrict__ weight,
                                        int64_t count, int64_t n, float* y, int64_t y_stride) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(kRowThreads) + threadIdx.x;
  if (i >= n) return;
  for (int64_t r = blockIdx.y; r < count; r += gridDim.y) {
    float* yr = y + static_cast<int64_t>(index[r]) * y_stride;
    const float xv = x[r * x_stride + i];
    const float term = weight != nullptr ? __fmul_rn(weight[r], xv) : xv;
    yr[i] = __fadd_rn(yr[i], term);
  }
}

__global__ void write_kv_rows_kernel(const float* __restrict__ src, int64_t src_stride, int64_t n,
                                     const int64_t* __restrict__ slot, int64_t rows, float* __restrict__ pool,
                                     int64_t row_floats, int64_t col_offset) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(kRowThreads) + threadIdx.x;
  if (i >= n) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    pool[slot[r] * row_floats + col_offset + i] = src[r * src_stride + i];
  }
}

}  // namespace

cudaError_t launch_add_rows(float* y, int64_t y_stride, const float* x, int64_t x_stride, int64_t rows, int64_t n,
                            cudaStream_t stream) {
  add_rows_kernel<<<row_grid(rows, n), kRowThreads, 0, stream>>>(y, y_stride, x, x_stride, rows, n);
  return cudaGetLastError();
}

cudaError_t launch_gather_rows(const float* src, int64_t src_stride, const int32_t* index, int64_t count, int64_t n,
                               float* dst, int64_t dst_stride, cudaStream_t stream) {
  gather_rows_kernel<<<row_grid(count, n), kRowThreads, 0, stream>>>(src, src_stride, index, count, n, dst,
                                                                      dst_stride);
  return cudaGetLastError();
}

cudaError_t launch_scatter_add_rows(const float* x, int64_t x_stride, const int32_t* index, const float* weight,
                                    int64_t count, int64_t n, float* y, int64_t y_stride, cudaStream_t stream) {
  scatter_add_rows_kernel<<<row_grid(count, n), kRowThreads, 0, stream>>>(x, x_stride, index, weight, count, n, y,
                                                                           y_stride);
  return cudaGetLastError();
}

cudaError_t launch_write_kv_rows(const float* src, int64_t src_stride, int64_t n, const int64_t* slot, int64_t rows,
                                 float* pool, int64_t row_floats, int64_t col_offset, cudaStream_t stream) {
  write_kv_rows_kernel<<<row_grid(rows, n), kRowThreads, 0, stream>>>(src, src_stride, n, slot, rows, pool,
                                                                       row_floats, col_offset);
  return cudaGetLastError();
}

}  // namespace fp4::cuda::detail
