// The CUDA backend (Hopper, sm_90a): linear layers straight from the stored encodings, and the small
// pointwise ops of a transformer block. Every function takes DEVICE pointers and a stream, enqueues its
// kernels on that stream and returns without synchronising; argument errors (bad shapes, null or
// misaligned pointers, an encoding a path does not take) throw fp4::Error before anything is enqueued,
// and a failed launch throws fp4::Error naming the kernel and the CUDA error.
//
// Layouts are exactly the CPU backend's (src/fp4/ops/weight.h, matmul.h, norm.h, rope.h, activation.h):
// row-major, W is [N, K] in its checkpoint encoding, x is [M, K], y is [M, N]. Weights are used as
// stored (no repacking), so a WeightView whose pointers are device copies of the checkpoint bytes is
// all a caller uploads. docs/cuda.md describes each kernel and its error bound.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "fp4/ops/rope.h"
#include "fp4/ops/weight.h"

namespace fp4::cuda {

// Element type of a device activation tensor.
enum class ActDtype : uint8_t { kF32, kBF16 };

// The path a matmul call takes (matmul() picks one from the encoding and M; tests and the benchmark
// name one directly).
enum class MatmulPath : uint8_t {
  kAuto,
  kNvfp4Gemv,  // NVFP4, M ≤ 8: streams weights and scales once, f32 arithmetic
  kNvfp4Mma,   // NVFP4, any M: E2M1·UE4M3 → BF16 in registers, mma.sync BF16 tensor cores, f32 accumulate
  kFp8Gemv,    // FP8 block, M ≤ 8: f32 arithmetic
  kFp8Mma,     // FP8 block, any M: E4M3 → BF16 in registers, mma.sync BF16, block scale in f32 per k-tile
  kCublasBf16, // BF16 weight: cuBLAS GEMM, BF16 tensor cores, f32 accumulate
  kCublasF32,  // F32 weight, f32 x: cuBLAS GEMM, f32 products and f32 accumulation (no TF32)
};

struct MatmulOptions {
  MatmulPath path = MatmulPath::kAuto;
  int split_k = 0;  // tensor-core paths: number of K slices (0 = chosen from the shape and the GPU)
  // NVFP4 GEMV: threads per weight row, 32/64/128/256 (0 = chosen from the shape and the GPU; a value the
  // kernel cannot take for this M is reported as a launch error).
  int gemv_threads_per_row = 0;
};

// y[M, N] (f32) = x[M, K] · Wᵀ. x is f32 or BF16 (x_dtype); the tensor-core paths round f32
// activations to BF16 first (docs/cuda.md gives the resulting bound). Encodings: NVFP4, FP8 block, BF16,
// F32 (f32 x only).
// Temporaries (split-K partial sums, BF16 copies of f32 activations) come from the stream-ordered
// allocator (cudaMallocAsync) and are released on the same stream.
void matmul(const WeightView& w, const void* x, ActDtype x_dtype, int64_t M, float* y, cudaStream_t stream,
            const MatmulOptions& options = {});

// The path matmul() takes for this weight and M under kAuto.
MatmulPath auto_path(const WeightView& w, int64_t M);
const char* path_name(MatmulPath path);

// RMSNorm with the CPU backend's semantics (norm.h): x [rows, dim] with row stride x_stride, gamma [dim],
// out [rows, dim] with row stride out_stride; out may alias x. f32 throughout.
void rmsnorm(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim,
             float* out, int64_t out_stride, cudaStream_t stream);

// out[r, i] = silu(gate[r, i]) · up[r, i] for i < n (activation.h's silu_mul_rows). f32.
void silu_mul_rows(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                   int64_t n, float* out, int64_t out_stride, cudaStream_t stream);

// In-place rotary embedding with the CPU backend's layouts and arithmetic (rope.h apply_rope): each
// product and the final add are separate f32 roundings, so results equal the CPU reference bit for bit.
// cos, sin: [tokens, rotary_dim / 2] device tables (rope_cos_sin on the host, then copied).
void apply_rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride,
                int64_t rot_offset, int64_t rotary_dim, const float* cos, const float* sin, cpu::RopeLayout layout,
                cudaStream_t stream);

// Number of CUDA devices this process can use (0 when there is no GPU or no driver).
int device_count();

}  // namespace fp4::cuda
