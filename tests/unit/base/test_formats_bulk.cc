// Row converters: each must equal its scalar codec element by element, for lengths that exercise the
// vectorized body and the scalar tail (and the odd last nibble of packed E2M1).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "fp4/base/formats.h"
#include "fp4/base/formats_bulk.h"
#include "test_formats_reference.h"

namespace fp4 {
namespace {

using test::bits_of_float;
using test::float_from_bits;

// Lengths around common vector widths (4, 8, 16 floats) and one long row.
const size_t kLengths[] = {0, 1, 2, 3, 7, 15, 16, 17, 31, 33, 1000, 4097};

// Random float32 bit patterns: every class of input (NaN, inf, subnormal, huge) turns up.
std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> out(n);
  for (float& x : out) x = float_from_bits(static_cast<uint32_t>(rng()));
  return out;
}

// Random floats in [-8, 8], the range where E2M1 codes differ.
std::vector<float> random_small_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-8.0f, 8.0f);
  std::vector<float> out(n);
  for (float& x : out) x = dist(rng);
  return out;
}

TEST(FormatsBulk, SixteenBitRowsMatchScalar) {
  for (size_t n : kLengths) {
    const std::vector<float> src = random_floats(n, static_cast<uint32_t>(n));
    std::vector<uint16_t> bf16(n), f16(n);
    f32_to_bf16_row(src.data(), bf16.data(), n);
    f32_to_f16_row(src.data(), f16.data(), n);
    std::vector<float> from_bf16(n), from_f16(n);
    bf16_to_f32_row(bf16.data(), from_bf16.data(), n);
    f16_to_f32_row(f16.data(), from_f16.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(bf16[i], f32_to_bf16(src[i])) << "n=" << n << " i=" << i;
      ASSERT_EQ(f16[i], f32_to_f16(src[i])) << "n=" << n << " i=" << i;
      ASSERT_EQ(bits_of_float(from_bf16[i]), bits_of_float(bf16_to_f32(bf16[i]))) << "n=" << n << " i=" << i;
      ASSERT_EQ(bits_of_float(from_f16[i]), bits_of_float(f16_to_f32(f16[i]))) << "n=" << n << " i=" << i;
    }
  }
}

TEST(FormatsBulk, E4M3RowAppliesScale) {
  for (size_t n : kLengths) {
    std::vector<uint8_t> codes(n);
    for (size_t i = 0; i < n; ++i) codes[i] = static_cast<uint8_t>(i * 37 + 11);
    std::vector<float> dst(n);
    const float scale = 0.013671875f;
    e4m3_to_f32_row(codes.data(), scale, dst.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(bits_of_float(dst[i]), bits_of_float(e4m3_to_f32(codes[i]) * scale)) << "n=" << n << " i=" << i;
    }
  }
}

TEST(FormatsBulk, E2M1PackUnpackMatchScalarAndNibbleOrder) {
  for (size_t n : kLengths) {
    const std::vector<float> src = random_small_floats(n, static_cast<uint32_t>(n) + 7);
    std::vector<uint8_t> packed((n + 1) / 2, 0xEE);
    f32_to_e2m1_pack_row(src.data(), packed.data(), n);
    for (size_t i = 0; i < n; ++i) {
      const uint8_t byte = packed[i / 2];
      const uint8_t code = (i % 2 == 0) ? byte & 0xF : byte >> 4;
      ASSERT_EQ(code, f32_to_e2m1(src[i])) << "n=" << n << " i=" << i;
    }
    if (n % 2) {
      EXPECT_EQ(packed.back() >> 4, 0) << "odd length leaves the last high nibble zero";
    }
    const float scale = 3.5f;
    std::vector<float> dst(n);
    e2m1_unpack_row(packed.data(), scale, dst.data(), n);
    for (size_t i = 0; i < n; ++i) {
      const float want = e2m1_to_f32(f32_to_e2m1(src[i])) * scale;
      ASSERT_EQ(bits_of_float(dst[i]), bits_of_float(want)) << "n=" << n << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace fp4
