// Exhaustive decode checks: every code point of every format against the independent reference model,
// the decode tables against the scalar decoders, and decode→encode round trips for every non-NaN code.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "fp4/base/formats.h"
#include "test_formats_reference.h"

namespace fp4 {
namespace {

// The codecs are usable in constant expressions (kernels and tables are built from them at compile time).
static_assert(f32_to_e4m3(448.0f) == 0x7E);
static_assert(e2m1_to_f32(f32_to_e2m1(2.5f)) == 2.0f);
static_assert(bf16_to_f32(f32_to_bf16(1.0f)) == 1.0f);

using test::BinaryFormat;
using test::ref_decode;
using test::RefValue;

// Asserts that `got` is exactly the reference value, including the sign of zero and NaN-ness.
::testing::AssertionResult same_value(float got, const RefValue& want) {
  if (want.is_nan) {
    if (std::isnan(got)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "expected NaN, got " << got;
  }
  if (std::isnan(got)) return ::testing::AssertionFailure() << "expected " << want.value << ", got NaN";
  if (static_cast<double>(got) != want.value || std::signbit(got) != std::signbit(want.value)) {
    return ::testing::AssertionFailure() << "expected " << want.value << ", got " << got;
  }
  return ::testing::AssertionSuccess();
}

template <typename Decode>
void expect_decode_matches(const BinaryFormat& format, Decode decode, uint32_t* nan_count) {
  *nan_count = 0;
  for (uint32_t code = 0; code < format.code_count(); ++code) {
    const RefValue want = ref_decode(format, code);
    if (want.is_nan) ++*nan_count;
    ASSERT_TRUE(same_value(decode(code), want)) << "code 0x" << std::hex << code;
  }
}

TEST(FormatsDecode, Bf16EveryCode) {
  uint32_t nans = 0;
  expect_decode_matches(test::kRefBF16, [](uint32_t c) { return bf16_to_f32(static_cast<uint16_t>(c)); }, &nans);
  EXPECT_EQ(nans, 2u * 127u);  // 2 signs × 127 non-zero mantissas under the all-ones exponent
}

TEST(FormatsDecode, F16EveryCode) {
  uint32_t nans = 0;
  expect_decode_matches(test::kRefF16, [](uint32_t c) { return f16_to_f32(static_cast<uint16_t>(c)); }, &nans);
  EXPECT_EQ(nans, 2u * 1023u);
}

TEST(FormatsDecode, E4M3EveryCode) {
  uint32_t nans = 0;
  expect_decode_matches(test::kRefE4M3, [](uint32_t c) { return e4m3_to_f32(static_cast<uint8_t>(c)); }, &nans);
  EXPECT_EQ(nans, 2u);  // only 0x7F and 0xFF
  EXPECT_EQ(e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3_to_f32(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_EQ(e4m3_to_f32(0x38), 1.0f);
}

TEST(FormatsDecode, E5M2EveryCode) {
  uint32_t nans = 0;
  expect_decode_matches(test::kRefE5M2, [](uint32_t c) { return e5m2_to_f32(static_cast<uint8_t>(c)); }, &nans);
  EXPECT_EQ(nans, 6u);  // 0x7D..0x7F and 0xFD..0xFF
  EXPECT_EQ(e5m2_to_f32(0x7B), 57344.0f);
  EXPECT_TRUE(std::isinf(e5m2_to_f32(0x7C)));
  EXPECT_EQ(e5m2_to_f32(0x01), std::ldexp(1.0f, -16));
}

TEST(FormatsDecode, E2M1EveryCodeMatchesSpecTable) {
  uint32_t nans = 0;
  expect_decode_matches(test::kRefE2M1, [](uint32_t c) { return e2m1_to_f32(static_cast<uint8_t>(c)); }, &nans);
  EXPECT_EQ(nans, 0u);
  // nvfp4_format.md §2.1, typed in from the spec's table rather than computed.
  const float spec_values[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  for (uint8_t code = 0; code < 8; ++code) {
    EXPECT_EQ(e2m1_to_f32(code), spec_values[code]) << int{code};
    EXPECT_EQ(e2m1_to_f32(static_cast<uint8_t>(code | 8)), -spec_values[code]) << int{code};
  }
  EXPECT_TRUE(std::signbit(e2m1_to_f32(8)));  // code 8 is -0
  EXPECT_EQ(e2m1_to_f32(0xF7), 6.0f);        // only the low nibble is read
}

TEST(FormatsDecode, Ue4m3IsE4M3Bits) {
  for (uint32_t code = 0; code < 0x7F; ++code) {
    ASSERT_TRUE(same_value(ue4m3_to_f32(static_cast<uint8_t>(code)), ref_decode(test::kRefE4M3, code))) << code;
  }
}

TEST(FormatsDecode, TablesEqualScalarDecoders) {
  const float* e4m3 = e4m3_decode_table();
  const float* e5m2 = e5m2_decode_table();
  for (uint32_t i = 0; i < 256; ++i) {
    const auto b = static_cast<uint8_t>(i);
    EXPECT_EQ(test::bits_of_float(e4m3[i]), test::bits_of_float(e4m3_to_f32(b))) << i;
    EXPECT_EQ(test::bits_of_float(e5m2[i]), test::bits_of_float(e5m2_to_f32(b))) << i;
  }
  const float* e2m1 = e2m1_decode_table();
  const int8_t* times2 = e2m1_times2_i8_table();
  for (uint32_t i = 0; i < 16; ++i) {
    const auto c = static_cast<uint8_t>(i);
    EXPECT_EQ(test::bits_of_float(e2m1[i]), test::bits_of_float(e2m1_to_f32(c))) << i;
    EXPECT_EQ(static_cast<float>(times2[i]), 2.0f * e2m1_to_f32(c)) << i;
  }
  const float* pairs = e2m1_pair_decode_table();
  for (uint32_t byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(test::bits_of_float(pairs[2 * byte]), test::bits_of_float(e2m1_to_f32(byte & 0xF))) << byte;
    EXPECT_EQ(test::bits_of_float(pairs[2 * byte + 1]), test::bits_of_float(e2m1_to_f32(byte >> 4))) << byte;
  }
}

TEST(FormatsDecode, PackingPutsEvenElementInLowNibble) {
  // nvfp4_format.md §2.2: byte = q[2j] | (q[2j+1] << 4).
  EXPECT_EQ(pack_e2m1_pair(0x3, 0xA), 0xA3);
  EXPECT_EQ(e2m1_even_code(0xA3), 0x3);
  EXPECT_EQ(e2m1_odd_code(0xA3), 0xA);
}

// decode→encode must give back the same code for every code that is not NaN (±0, ±inf, subnormals,
// the largest finite value), with every encoder variant that can produce that code.
TEST(FormatsRoundTrip, Bf16AndF16EveryNonNanCode) {
  for (uint32_t code = 0; code < 65536; ++code) {
    const auto c = static_cast<uint16_t>(code);
    if (!ref_decode(test::kRefBF16, code).is_nan) {
      ASSERT_EQ(f32_to_bf16(bf16_to_f32(c)), c) << code;
    }
    if (!ref_decode(test::kRefF16, code).is_nan) {
      ASSERT_EQ(f32_to_f16(f16_to_f32(c)), c) << code;
    }
  }
}

TEST(FormatsRoundTrip, Fp8EveryNonNanCode) {
  for (uint32_t code = 0; code < 256; ++code) {
    const auto c = static_cast<uint8_t>(code);
    if (!ref_decode(test::kRefE4M3, code).is_nan) {
      ASSERT_EQ(f32_to_e4m3(e4m3_to_f32(c)), c) << code;
      ASSERT_EQ(f32_to_e4m3_nonsaturating(e4m3_to_f32(c)), c) << code;
    }
    const RefValue e5m2 = ref_decode(test::kRefE5M2, code);
    if (!e5m2.is_nan) {
      ASSERT_EQ(f32_to_e5m2(e5m2_to_f32(c)), c) << code;
      if (!std::isinf(e5m2.value)) {
        ASSERT_EQ(f32_to_e5m2_satfinite(e5m2_to_f32(c)), c) << code;
      }
    }
  }
  for (uint32_t code = 0; code < 0x7F; ++code) {
    ASSERT_EQ(f32_to_ue4m3(ue4m3_to_f32(static_cast<uint8_t>(code))), code) << code;
  }
}

TEST(FormatsRoundTrip, E2M1EveryCode) {
  for (uint8_t code = 0; code < 16; ++code) EXPECT_EQ(f32_to_e2m1(e2m1_to_f32(code)), code) << int{code};
}

}  // namespace
}  // namespace fp4
