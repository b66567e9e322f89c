// Weight encoders for the two checkpoint formats the quantizer writes (specs/nvfp4_format.md §1.4, §2, §3):
//
//   NVFP4 (ModelOpt): W [N, K] → packed E2M1 codes U8 [N, K/2] (even element in the low nibble),
//     per-16 block scales E4M3 [N, K/16] and one F32 global scale (weight_scale_2).
//   FP8 block (DeepSeek): W [N, K] → E4M3 codes [N, K] and F32 multipliers weight_scale_inv
//     [ceil(N/128), ceil(K/128)].
//
// The arithmetic repeats ModelOpt's NVFP4QTensor operation for operation in float32, because the bits of
// the result depend on it:
//   weight_scale_2 = amax / 2688                       (2688 = 6·448 is exact; see GlobalScaleArith)
//   sb            = amax16 / (6 · weight_scale_2)      (the product rounded to f32 first, then divided)
//   sb            = 1.0 where amax16 == 0
//   weight_scale  = e4m3_rne(clamp(sb, 2^-9, 448))     (ModelOpt ≥ 2026; 0.31 cast without the clamp)
//   q             = e2m1_rne(w / (f32(weight_scale) · weight_scale_2))   (product first, then a division;
//                                                       not a multiply by a reciprocal)
// Rows are independent, so callers may encode a tensor in row chunks and get the same bytes.
#pragma once

#include <cstdint>
#include <span>

namespace fp4::quant {

inline constexpr int64_t kNvfp4Group = 16;      // elements per block scale
inline constexpr int64_t kFp8BlockEdge = 128;   // DeepSeek's 128×128 weight blocks

// How the per-block f32 scale becomes an E4M3 byte.
enum class BlockScaleCast : uint8_t {
  kClamped,           // clamp to [2^-9, 448] first: current ModelOpt (PR #1397); never 0, never NaN
  kUnclampedV031,     // ModelOpt 0.23–0.31: plain saturating RNE cast, so a tiny scale may become 0
};

// How ModelOpt's `amax.float() / (6.0 * 448.0)` rounds. torch evaluates a tensor divided by a Python
// scalar as a true f32 division on the CPU, but on CUDA as a multiply by the f32 reciprocal; measured on
// an H200 with torch 2.11, the two differ by one ulp for about 23% of amaxes. Released ModelOpt
// checkpoints are made on GPUs, so the reciprocal form is the default.
enum class GlobalScaleArith : uint8_t {
  kCudaReciprocal,  // amax · f32(1/2688)
  kTrueDivision,    // amax / 2688 (ModelOpt run on the CPU)
};

// weight_scale_2 = amax / (6·448) in f32, rounded as `arith` says. An all-zero tensor (amax 0) gets 1.0:
// ModelOpt would divide 0 by 0 and write NaN scales, which no loader accepts; with 1.0 every block scale
// is 1.0 and every code 0, which decodes to the same all-zero tensor.
float nvfp4_global_scale(float amax, GlobalScaleArith arith);

// E4M3 byte of the block scale for a block with max |w| = block_amax under global scale `scale_2`.
uint8_t nvfp4_block_scale_code(float block_amax, float scale_2, BlockScaleCast cast);

// Max |x| over `values`; NaN anywhere is reported by the caller's validation, here it propagates.
float abs_max(std::span<const float> values);

// Encodes `rows` rows of W (row-major, `cols` per row, cols % 16 == 0) with the given global scale.
//   weights: [rows, cols] f32;  packed: [rows, cols/2] bytes;  scales: [rows, cols/16] E4M3 bytes.
// A block whose decoded scale times scale_2 is 0 (possible only with kUnclampedV031) gets codes 0: its
// scale already decodes every element to 0.
void nvfp4_encode_rows(const float* weights, int64_t rows, int64_t cols, float scale_2, BlockScaleCast cast,
                       uint8_t* packed, uint8_t* scales);

// Inverse: W[n,k] = e2m1(code) · f32(scale[n, k/16]) · scale_2, computed as (scale·scale_2)·code in f32
// as ModelOpt's dequantize does. out: [rows, cols] f32.
void nvfp4_decode_rows(const uint8_t* packed, const uint8_t* scales, float scale_2, int64_t rows, int64_t cols,
                       float* out);

// DeepSeek FP8 block encoding of one band of up to 128 rows (all column blocks of it):
//   weights: [rows, cols] f32, rows ≤ 128;  codes: [rows, cols] E4M3 bytes;
//   scale_inv: [ceil(cols/128)] f32, the band's row of weight_scale_inv.
// Scale = amax/448 in f32 (1.0 for an all-zero block); code = e4m3_rne(w / scale), saturating at ±448.
// Edge blocks use only the elements that exist (zero padding does not change an amax).
void fp8_block_encode_band(const float* weights, int64_t rows, int64_t cols, uint8_t* codes, float* scale_inv);

// Inverse for the same band: out[r, c] = f32(code) · scale_inv[c/128], one f32 multiply (DeepSeek's
// weight_dequant). out: [rows, cols] f32.
void fp8_block_decode_band(const uint8_t* codes, const float* scale_inv, int64_t rows, int64_t cols, float* out);

}  // namespace fp4::quant
