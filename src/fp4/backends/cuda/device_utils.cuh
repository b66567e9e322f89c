// Device helpers shared by the matmul kernels: streaming loads, cp.async, exact decoders of the stored
// element formats into f32 / f16 / bf16 registers, and the BF16 tensor-core instruction.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>

namespace fp4::cuda::detail {

constexpr int kWarpSize = 32;

// Weights are read exactly once per call: load them without allocating in L1 so the activations that
// every warp re-reads keep the cache.
__device__ __forceinline__ uint4 load_stream_16(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}
__device__ __forceinline__ uint2 load_stream_8(const void* p) {
  uint2 v;
  asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0, %1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(p));
  return v;
}

// ---- E2M1 ------------------------------------------------------------------------------------------
// Eight E2M1 codes of one 32-bit word (code i in bits 4i..4i+3, i.e. consecutive k with the even k in
// the low nibble) to f32, each equal to e2m1(code) · 2^-14 exactly.
// Why: putting the code's 3 magnitude bits (2 exponent bits, 1 mantissa bit) in bits 11..9 of an f16
// and its sign in bit 15 gives the f16 whose exponent field is the E2M1 exponent: for exponent e ≥ 1
// the value is 2^(e-15)·(1 + m/2) = e2m1 · 2^-14, and for e = 0 the f16 subnormal m · 2^-15 is again
// e2m1 · 2^-14 (code 1 = 0.5). Codes i and i+4 sit 16 bits apart, so one shift and mask serves both
// halves of an f16x2. The 2^14 is folded into the output scale by the caller (a power of two: exact).
__device__ __forceinline__ void decode_e2m1x8_scaled(uint32_t w, float (&v)[8]) {
  const uint32_t h04 = ((w << 9) & 0x0E000E00u) | ((w << 12) & 0x80008000u);
  const uint32_t h15 = ((w << 5) & 0x0E000E00u) | ((w << 8) & 0x80008000u);
  const uint32_t h26 = ((w << 1) & 0x0E000E00u) | ((w << 4) & 0x80008000u);
  const uint32_t h37 = ((w >> 3) & 0x0E000E00u) | (w & 0x80008000u);
  float2 f;
  f = __half22float2(*reinterpret_cast<const __half2*>(&h04));
  v[0] = f.x;
  v[4] = f.y;
  f = __half22float2(*reinterpret_cast<const __half2*>(&h15));
  v[1] = f.x;
  v[5] = f.y;
  f = __half22float2(*reinterpret_cast<const __half2*>(&h26));
  v[2] = f.x;
  v[6] = f.y;
  f = __half22float2(*reinterpret_cast<const __half2*>(&h37));
  v[3] = f.x;
  v[7] = f.y;
}

// ---- E4M3 ------------------------------------------------------------------------------------------
// Two E4M3 bytes (low byte first) to f32 through the hardware e4m3x2 → f16x2 conversion (exact: every
// finite E4M3 value is an f16), then f16 → f32 (exact).
__device__ __forceinline__ float2 decode_e4m3x2(uint16_t pair) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(pair), __NV_E4M3);
  return __half22float2(*reinterpret_cast<const __half2*>(&h));
}
__device__ __forceinline__ float decode_e4m3(uint8_t code) {
  const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), __NV_E4M3);
  return __half2float(*reinterpret_cast<const __half*>(&h));
}

// ---- BF16 ------------------------------------------------------------------------------------------
__device__ __forceinline__ float bf16_lo(uint32_t pair) { return __uint_as_float(pair << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t pair) { return __uint_as_float(pair & 0xFFFF0000u); }

__device__ __forceinline__ uint32_t bf16x2_bits(__nv_bfloat162 v) { return *reinterpret_cast<uint32_t*>(&v); }
__device__ __forceinline__ __nv_bfloat162 as_bf16x2(uint32_t bits) {
  return *reinterpret_cast<__nv_bfloat162*>(&bits);
}

// ---- cp.async (sm_80+) -----------------------------------------------------------------------------
// Copies `src_bytes` (0..16) bytes from global to shared memory and zero-fills the rest of the 16.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, int src_bytes) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
// Copies `src_bytes` (0 or 4) bytes and zero-fills the rest of the 4.
__device__ __forceinline__ void cp_async_4(void* smem, const void* gmem, int src_bytes) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(s), "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(kPending));
}

// ---- Tensor cores ------------------------------------------------------------------------------------
// Four 8x8 b16 matrices from shared memory (each lane gives one row address).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

// d += a · b for one m16n8k16 tile, BF16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

}  // namespace fp4::cuda::detail
