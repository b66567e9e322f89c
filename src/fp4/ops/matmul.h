// Linear layers on the CPU: y[M,N] = x[M,K] · Wᵀ with W[N,K] in its stored encoding (weight.h).
// x and y are f32, row-major and contiguous; y is overwritten (no accumulate, no bias: the caller adds
// a bias separately). Kernels read the packed weight directly and never expand a whole weight.
//
// Numerics. matmul_reference decodes each weight element exactly to f32 and accumulates
// Σ_k x[m,k]·W[n,k] in f64, rounding once to f32: it is the ground truth for tests.
// matmul (the fast path) accumulates in f32 in a blocked order, so it differs from the reference by at
// most the f32 accumulation error γ_{K+34}·Σ|x||W|. For NVFP4 the caller picks the activation
// precision (MatmulOptions): kF32 keeps that bound; kInt8 (on CPUs with AVX2 or AVX-512) quantizes x per
// 16-element block to int8 (step d = amax/127) and multiplies with exact int8 dot products, which adds
// at most Σ_blocks (d/2)·Σ|W| (docs/kernels.md derives both bounds; the tests use them).
#pragma once

#include <cstdint>

#include "fp4/base/thread_pool.h"
#include "fp4/ops/weight.h"

namespace fp4::cpu {

// How NVFP4 linears treat the activations (every other encoding always computes in f32).
enum class ActivationPrecision {
  kF32,   // weights decoded to f32 in registers, f32 FMAs: the reference up to f32 summation order
  kInt8,  // x quantized per 16-element block to int8, int8 dot products (W4A8; AVX2/AVX-512 only,
          // other CPUs fall back to kF32)
};

struct MatmulOptions {
  ActivationPrecision nvfp4_activations = ActivationPrecision::kF32;
};

// Fast path: Highway SIMD chosen at run time for this CPU (AVX-512 VNNI/BF16, AVX-512, AVX2, ...),
// parallel over the pool. Throws fp4::Error if w is malformed (checked once per call).
// x: [M, K] f32, y: [M, N] f32, with N = w.rows and K = w.cols; M >= 0.
void matmul(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y, const MatmulOptions& options);
// The same with NVFP4 activations in int8 where the CPU has the kernel (ActivationPrecision::kInt8).
void matmul(ThreadPool& pool, const WeightView& w, const float* x, int64_t M, float* y);

// Scalar reference: obviously right, slow. Same contract and same checks as matmul.
void matmul_reference(const WeightView& w, const float* x, int64_t M, float* y);

// Throws fp4::Error naming the first problem with w: unknown encoding, non-positive shape, null data
// or scale pointers, K not a multiple of 16 (NVFP4), block sizes <= 0 (FP8 block), a non-finite
// global scale. what names the caller in the message ("matmul", a tensor name, ...).
void check_weight(const WeightView& w, const char* what);

// The SIMD target the fast path dispatches to on this CPU ("AVX3_DL", "AVX3", "AVX2", ...).
const char* matmul_target_name();

}  // namespace fp4::cpu
