// Pieces shared by the CPU matmul translation units (not part of the public op interface).
#pragma once

#include <algorithm>
#include <cstdint>

#include "fp4/base/thread_pool.h"
#include "fp4/ops/weight.h"

namespace fp4::cpu::detail {

// Above this many rows of x the f32 path switches from row-at-a-time dot products (each decoded weight
// row is used by every x row while it is in L1) to the tiled kernel (a decoded tile of weight rows is
// reused by a block of x rows with MR x NR register blocking).
inline constexpr int64_t kSmallM = 4;

// NVFP4 through int8 dot products on the activations quantized per 16-element block (matmul_nvfp4.cc).
// Returns false, computing nothing, when this CPU's best SIMD target has no int8 dot-product kernel;
// the caller then uses the f32 path.
bool matmul_nvfp4_int8(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y);

// NVFP4 with f32 activations on every SIMD target (matmul_nvfp4_f32.cc): weights decoded exactly in
// registers, f32 FMAs. w is already checked and M > 0.
void matmul_nvfp4_f32(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y);

// Bytes of one stored weight row (data plus its share of the scales).
inline int64_t weight_row_bytes(const WeightView& w) {
  switch (w.encoding) {
    case WeightEncoding::kF32: return w.cols * 4;
    case WeightEncoding::kBF16:
    case WeightEncoding::kF16: return w.cols * 2;
    case WeightEncoding::kFP8Block: return w.cols;
    case WeightEncoding::kNVFP4: return w.cols / 2 + w.cols / 16;
  }
  return w.cols;
}

// Splits [0, total) into at most `parts` nearly equal ranges whose sizes (except the last) are
// multiples of `align`; returns the range size.
inline int64_t split_size(int64_t total, int64_t parts, int64_t align) {
  int64_t size = (total + parts - 1) / std::max<int64_t>(parts, 1);
  size = (size + align - 1) / align * align;
  return std::max<int64_t>(size, align);
}

}  // namespace fp4::cpu::detail
