// Numeric formats: exact decoders and round-to-nearest-even encoders for every element type the engine
// reads or writes (BF16, F16, FP8 E4M3FN and E5M2, the NVFP4 element E2M1 and the NVFP4 block scale UE4M3).
//
// Everything here is header-inline and constexpr because the kernels call the decoders in hot loops and
// the quantizer calls the encoders per element. The decode tables (e4m3_decode_table() and friends) are
// built at compile time from the same scalar decoders, so a table lookup and a scalar call always agree.
//
// What each encoder does with special inputs (the why, with spec sections, is in docs/formats.md):
//
//   encoder               NaN                 ±inf             |x| above max finite     tiny |x|, -0
//   f32_to_bf16           quiet NaN, sign and  ±inf             RNE, may round to ±inf   RNE into subnormals;
//                         top payload kept                                               -0 stays -0
//   f32_to_f16            quiet NaN, sign and  ±inf             RNE, may round to ±inf   same
//                         top payload kept
//   f32_to_e4m3           0x7F                 ±448             ±448 (satfinite)         same
//   f32_to_e4m3_nonsaturating  NaN, sign kept  NaN, sign kept   NaN unless RNE gives 448 same
//   f32_to_e5m2           sign|0x7E (qNaN)     ±inf             RNE, may round to ±inf   same
//   f32_to_e5m2_satfinite 0x7F                 ±57344           ±57344                   same
//   f32_to_e2m1           +6 (code 7)          ±6               ±6 (satfinite)           same; code 8 is -0
//   f32_to_ue4m3          0x7F                 +inf→448, -inf→0  448                     negatives and -0 → 0x00
//
// "RNE" is round-to-nearest, ties to the even code; "same" means values below half the smallest
// subnormal become a zero that keeps the sign of the input (a tie at exactly half goes to the even
// code, which is zero). nvfp4_format.md §2.3 and §2.5 mandate RNE with saturation (the hardware's
// cvt.rn.satfinite) for E2M1 elements and E4M3 scales; the non-saturating variants reproduce a plain
// PyTorch / ml_dtypes cast and exist so reference checks can name the behaviour they compare with.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fp4 {

// Largest finite magnitudes and smallest subnormals of the narrow formats.
inline constexpr float kE4M3Max = 448.0f;            // 1.75 * 2^8, code 0x7E
inline constexpr float kE4M3MinSubnormal = 0x1p-9f;  // code 0x01
inline constexpr float kE5M2Max = 57344.0f;          // 1.75 * 2^15, code 0x7B
inline constexpr float kE5M2MinSubnormal = 0x1p-16f; // code 0x01
inline constexpr float kE2M1Max = 6.0f;              // code 0x7
inline constexpr float kF16Max = 65504.0f;           // code 0x7BFF

namespace formats_detail {

constexpr uint32_t f32_bits(float x) { return std::bit_cast<uint32_t>(x); }
constexpr float f32_from_bits(uint32_t bits) { return std::bit_cast<float>(bits); }

// 2^k as a float for -126 <= k <= 127 (exact: built from the exponent field).
constexpr float pow2(int k) { return f32_from_bits(static_cast<uint32_t>(k + 127) << 23); }

// Rounds a finite, non-negative float32 (given as its bits, sign cleared) to the magnitude code of a
// binary format with `man_bits` mantissa bits and exponent bias `bias`, round-to-nearest-even, with
// gradual underflow into that format's subnormals. The result is unbounded above: a code beyond the
// format's largest finite code means overflow, which the caller resolves (saturate, inf or NaN).
// Rounding on the bit pattern is exact because adding half an ulp minus one (plus the lowest kept bit
// for ties) carries into the exponent precisely when the value rounds up across a binade.
constexpr uint32_t round_magnitude(uint32_t abs_bits, int man_bits, int bias) {
  const uint32_t exp32 = abs_bits >> 23;
  const uint32_t min_normal_exp32 = static_cast<uint32_t>(127 + 1 - bias);
  if (exp32 >= min_normal_exp32) {
    const int shift = 23 - man_bits;
    const uint32_t lowest_kept = (abs_bits >> shift) & 1u;
    const uint32_t rounded = abs_bits + ((1u << (shift - 1)) - 1u) + lowest_kept;
    return (rounded >> shift) - (static_cast<uint32_t>(127 - bias) << man_bits);
  }
  if (exp32 == 0) return 0;  // float32 zero or subnormal: below 2^-126, far under every target's half-ulp
  // Target subnormal: count units of 2^(1 - bias - man_bits) in m * 2^(exp32 - 150).
  const uint32_t mantissa = (abs_bits & 0x7FFFFFu) | 0x800000u;
  const int shift = 151 - bias - man_bits - static_cast<int>(exp32);  // >= 24 - man_bits >= 1
  if (shift > 24) return 0;  // value < 2^24 units/2^25: below half the smallest subnormal
  const uint32_t quotient = mantissa >> shift;
  const uint32_t remainder = mantissa & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  const bool round_up = remainder > half || (remainder == half && (quotient & 1u));
  return quotient + (round_up ? 1u : 0u);  // quotient + 1 == 1 << man_bits is the smallest normal: correct
}

// Exact value of magnitude code `code` (no sign bit) of a binary format; the caller has already
// handled the codes that mean NaN or infinity.
constexpr float decode_magnitude(uint32_t code, int man_bits, int bias) {
  const uint32_t exponent = code >> man_bits;
  const uint32_t mantissa = code & ((1u << man_bits) - 1u);
  if (exponent == 0) return static_cast<float>(mantissa) * pow2(1 - bias - man_bits);
  return f32_from_bits(((exponent + static_cast<uint32_t>(127 - bias)) << 23) | (mantissa << (23 - man_bits)));
}

constexpr float with_sign(float magnitude, bool negative) { return negative ? -magnitude : magnitude; }

}  // namespace formats_detail

// ---------------------------------------------------------------------------------------------------
// BF16: the top half of a float32. Decoding is a shift. Encoding rounds to nearest even on the dropped
// 16 bits; finite values at or above 0x1.FFp127 (the midpoint past the largest bf16) round to inf as
// IEEE overflow does. NaN keeps its sign and top 7 payload bits and gets the quiet bit, so a signalling
// NaN cannot turn into infinity by truncation (this is what x86's VCVTNEPS2BF16 produces).
constexpr float bf16_to_f32(uint16_t bits) { return formats_detail::f32_from_bits(static_cast<uint32_t>(bits) << 16); }

constexpr uint16_t f32_to_bf16(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  const uint32_t rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

// ---------------------------------------------------------------------------------------------------
// F16: IEEE binary16 (5 exponent bits, bias 15, 10 mantissa bits, subnormals, inf, NaN).
// Encoding: RNE; |x| >= 65520 (the midpoint past 65504) becomes ±inf; ±inf stays ±inf; NaN keeps sign
// and top 9 payload bits and gets the quiet bit (as x86 F16C's VCVTPS2PH does).
constexpr float f16_to_f32(uint16_t bits) {
  const bool negative = (bits & 0x8000u) != 0;
  const uint32_t magnitude = bits & 0x7FFFu;
  if (magnitude >= 0x7C00u) {
    const uint32_t sign = negative ? 0x80000000u : 0u;
    return formats_detail::f32_from_bits(sign | 0x7F800000u | ((magnitude & 0x3FFu) << 13));
  }
  return formats_detail::with_sign(formats_detail::decode_magnitude(magnitude, 10, 15), negative);
}

constexpr uint16_t f32_to_f16(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((abs_bits >> 13) & 0x3FFu));
  if (abs_bits == 0x7F800000u) return static_cast<uint16_t>(sign | 0x7C00u);
  const uint32_t code = formats_detail::round_magnitude(abs_bits, 10, 15);
  return static_cast<uint16_t>(sign | (code >= 0x7C00u ? 0x7C00u : code));
}

// ---------------------------------------------------------------------------------------------------
// FP8 E4M3FN (float8_e4m3fn): 4 exponent bits, bias 7, 3 mantissa bits, no infinities; 0x7F and 0xFF
// are NaN, so the largest finite value is 448 (0x7E) and the smallest subnormal 2^-9 (0x01).
constexpr float e4m3_to_f32(uint8_t bits) {
  const uint32_t magnitude = bits & 0x7Fu;
  if (magnitude == 0x7Fu) return std::bit_cast<float>((bits & 0x80u) ? 0xFFC00000u : 0x7FC00000u);
  return formats_detail::with_sign(formats_detail::decode_magnitude(magnitude, 3, 7), (bits & 0x80u) != 0);
}

// Spec encoder (nvfp4_format.md §2.4, §2.5: "RNE cast", "e4m3_satfinite"): RNE, saturating. Finite
// values that round past 448 (|x| > 464, the midpoint between 448 and the missing 480) and ±inf give
// ±448; NaN gives 0x7F, the canonical NaN the hardware's cvt.rn.satfinite writes.
constexpr uint8_t f32_to_e4m3(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return 0x7F;
  if (abs_bits == 0x7F800000u) return static_cast<uint8_t>(sign | 0x7Eu);
  const uint32_t code = formats_detail::round_magnitude(abs_bits, 3, 7);
  return static_cast<uint8_t>(sign | (code > 0x7Eu ? 0x7Eu : code));
}

// A plain cast as torch.Tensor.to(torch.float8_e4m3fn) and ml_dtypes do it: RNE, and anything that
// rounds past 448, ±inf, or NaN becomes NaN with the input's sign (0x7F / 0xFF). Not used for stored
// scales or weights; kept so a checkpoint written by such a cast can be reproduced bit for bit.
constexpr uint8_t f32_to_e4m3_nonsaturating(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits >= 0x7F800000u) return static_cast<uint8_t>(sign | 0x7Fu);
  const uint32_t code = formats_detail::round_magnitude(abs_bits, 3, 7);
  return static_cast<uint8_t>(sign | (code > 0x7Eu ? 0x7Fu : code));
}

// ---------------------------------------------------------------------------------------------------
// FP8 E5M2 (float8_e5m2): 5 exponent bits, bias 15, 2 mantissa bits, IEEE-style inf (0x7C) and NaN
// (0x7D..0x7F); largest finite 57344 (0x7B), smallest subnormal 2^-16.
constexpr float e5m2_to_f32(uint8_t bits) {
  return f16_to_f32(static_cast<uint16_t>(static_cast<uint16_t>(bits) << 8));  // e5m2 is the top byte of f16
}

// The spec does not use E5M2 for stored tensors, so this follows IEEE/ml_dtypes: RNE, |x| >= 61440 (the
// midpoint past 57344) and ±inf give ±inf, NaN gives the quiet NaN 0x7E with the input's sign.
constexpr uint8_t f32_to_e5m2(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return static_cast<uint8_t>(sign | 0x7Eu);
  if (abs_bits == 0x7F800000u) return static_cast<uint8_t>(sign | 0x7Cu);
  const uint32_t code = formats_detail::round_magnitude(abs_bits, 2, 15);
  return static_cast<uint8_t>(sign | (code >= 0x7Cu ? 0x7Cu : code));
}

// The hardware's cvt.rn.satfinite.e5m2: overflow and ±inf clamp to ±57344, NaN gives 0x7F.
constexpr uint8_t f32_to_e5m2_satfinite(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80u);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return 0x7F;
  if (abs_bits == 0x7F800000u) return static_cast<uint8_t>(sign | 0x7Bu);
  const uint32_t code = formats_detail::round_magnitude(abs_bits, 2, 15);
  return static_cast<uint8_t>(sign | (code > 0x7Bu ? 0x7Bu : code));
}

// ---------------------------------------------------------------------------------------------------
// E2M1, the NVFP4 element (nvfp4_format.md §2.1): a 4-bit code, bit 3 sign, bits 2..1 exponent (bias 1),
// bit 0 mantissa. Values 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives; code 8 is -0.
// Only the low 4 bits of `code4` are read.
constexpr float e2m1_to_f32(uint8_t code4) {
  return formats_detail::with_sign(formats_detail::decode_magnitude(code4 & 0x7u, 1, 1), (code4 & 0x8u) != 0);
}

// Spec encoder (§2.3, ModelOpt _cast_fp4 and the hardware cvt.rn.satfinite.e2m1): RNE with ties to the
// even mantissa (0.25→0, 0.75→1, 1.25→1, 1.75→2, 2.5→2, 3.5→4, 5→4), |x| > 5 and ±inf saturate to ±6.
// E2M1 has no NaN; NaN encodes as +6 (code 7), which is what ModelOpt's searchsorted rounding gives
// (NaN sorts past every midpoint and torch.sign(NaN) is not negative). Negative inputs that round to
// zero give code 8 (-0), as ml_dtypes and the hardware do.
constexpr uint8_t f32_to_e2m1(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  const uint32_t abs_bits = bits & 0x7FFFFFFFu;
  if (abs_bits > 0x7F800000u) return 0x7;
  const uint8_t sign = static_cast<uint8_t>((bits >> 28) & 0x8u);
  if (abs_bits == 0x7F800000u) return static_cast<uint8_t>(sign | 0x7u);
  const uint32_t code = formats_detail::round_magnitude(abs_bits, 1, 1);
  return static_cast<uint8_t>(sign | (code > 0x7u ? 0x7u : code));
}

// Packing (§2.2): element 2j in the low nibble, element 2j+1 in the high nibble.
constexpr uint8_t pack_e2m1_pair(uint8_t even_code, uint8_t odd_code) {
  return static_cast<uint8_t>((even_code & 0xFu) | ((odd_code & 0xFu) << 4));
}
constexpr uint8_t e2m1_even_code(uint8_t packed) { return packed & 0xFu; }
constexpr uint8_t e2m1_odd_code(uint8_t packed) { return static_cast<uint8_t>(packed >> 4); }

// ---------------------------------------------------------------------------------------------------
// UE4M3, the NVFP4 block scale as stored: float8_e4m3fn bits (the checkpoint dtype is F8_E4M3) whose
// sign bit is always 0. Decoding reads the byte as E4M3FN; a set sign bit or 0x7F is not a valid scale
// and check_ue4m3_scales() rejects it at load time, so the hot path does not re-check.
constexpr float ue4m3_to_f32(uint8_t bits) { return e4m3_to_f32(bits); }

// Scale encoder (§2.4, §2.5): the E4M3 satfinite cast restricted to non-negative results. Scales are
// magnitudes (amax / 6 / global scale), so negative inputs, -0 and -inf give +0 (code 0x00); values
// past 448 and +inf give 448; NaN gives 0x7F so a broken amax is visible rather than silently zero.
// ModelOpt's newer export additionally clamps scales to at least 2^-9 (§2.4, PR #1397); that is the
// quantizer's policy, applied before this call.
constexpr uint8_t f32_to_ue4m3(float x) {
  const uint32_t bits = formats_detail::f32_bits(x);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return 0x7F;
  if (bits & 0x80000000u) return 0x00;
  return f32_to_e4m3(x);
}

// Throws fp4::Error naming `what` (e.g. "model.safetensors: layers.0.mlp.down_proj.weight_scale") and the
// first element index when a stored UE4M3 scale has its sign bit set or is the NaN code 0x7F.
void check_ue4m3_scales(const uint8_t* scales, size_t count, std::string_view what);

// ---------------------------------------------------------------------------------------------------
// Decode tables for kernels. Each is built at compile time from the scalar decoders above.
const float* e4m3_decode_table();   // [256]: e4m3_to_f32(i)
const float* e5m2_decode_table();   // [256]: e5m2_to_f32(i)
const float* e2m1_decode_table();   // [16]:  e2m1_to_f32(i)
const float* e2m1_pair_decode_table();  // [256][2]: {e2m1_to_f32(b & 15), e2m1_to_f32(b >> 4)} for packed byte b
// [16]: 2 * e2m1_to_f32(i) as int8 (0, 1, 2, 3, 4, 6, 8, 12 and negatives; code 8 gives 0). Every E2M1
// value times 2 is an integer, so int8 dot-product instructions multiply NVFP4 elements exactly.
const int8_t* e2m1_times2_i8_table();

}  // namespace fp4
