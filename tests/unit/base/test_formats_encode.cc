// Encoder checks: named boundary cases from nvfp4_format.md §2, then every encoder against the independent
// nearest-value reference on a dense sample of float32 bit patterns (a fixed stride over all 2^32 patterns
// plus every pattern within 8 ulps of each representable value, each midpoint between neighbours, and the
// overflow threshold). The exhaustive 2^32 sweep against ml_dtypes is tests/python/test_formats_reference.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "test_formats_reference.h"

namespace fp4 {
namespace {

using test::float_from_bits;
using test::Overflow;
using test::RefEncoder;

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNan = std::numeric_limits<float>::quiet_NaN();

// ------------------------------------------------------------------------------------------------
// Named cases.

TEST(FormatsEncodeCases, E2M1SpecRoundingTable) {
  // nvfp4_format.md §2.3: 0.25→0, 0.75→1, 1.25→1, 1.75→2, 2.5→2, 3.5→4, 5→4, >5 → 6.
  struct Case { float x; float want; };
  const Case cases[] = {{0.25f, 0.0f}, {0.75f, 1.0f}, {1.25f, 1.0f}, {1.75f, 2.0f}, {2.5f, 2.0f}, {3.5f, 4.0f},
                        {5.0f, 4.0f},  {5.0001f, 6.0f}, {6.0f, 6.0f}, {1e30f, 6.0f}, {0.2499f, 0.0f},
                        {0.2501f, 0.5f}, {0.7499f, 0.5f}, {2.4999f, 2.0f}, {2.5001f, 3.0f}};
  for (const Case& c : cases) {
    EXPECT_EQ(e2m1_to_f32(f32_to_e2m1(c.x)), c.want) << c.x;
    EXPECT_EQ(e2m1_to_f32(f32_to_e2m1(-c.x)), -c.want) << -c.x;
  }
  EXPECT_EQ(f32_to_e2m1(-0.0f), 0x8);
  EXPECT_EQ(f32_to_e2m1(-0.1f), 0x8);  // rounds to zero, keeps the sign
  EXPECT_EQ(f32_to_e2m1(0.0f), 0x0);
  EXPECT_EQ(f32_to_e2m1(kInf), 0x7);
  EXPECT_EQ(f32_to_e2m1(-kInf), 0xF);
  EXPECT_EQ(f32_to_e2m1(kNan), 0x7);
  EXPECT_EQ(f32_to_e2m1(-kNan), 0x7);
  EXPECT_EQ(f32_to_e2m1(std::numeric_limits<float>::denorm_min()), 0x0);
}

TEST(FormatsEncodeCases, E4M3SaturatesAsSpecSays) {
  EXPECT_EQ(f32_to_e4m3(448.0f), 0x7E);
  EXPECT_EQ(f32_to_e4m3(464.0f), 0x7E);           // tie between 448 (even) and the missing 480
  EXPECT_EQ(f32_to_e4m3(464.00003f), 0x7E);       // past the tie: saturates
  EXPECT_EQ(f32_to_e4m3(1e30f), 0x7E);
  EXPECT_EQ(f32_to_e4m3(-1e30f), 0xFE);
  EXPECT_EQ(f32_to_e4m3(kInf), 0x7E);
  EXPECT_EQ(f32_to_e4m3(-kInf), 0xFE);
  EXPECT_EQ(f32_to_e4m3(kNan), 0x7F);
  EXPECT_EQ(f32_to_e4m3(-kNan), 0x7F);
  EXPECT_EQ(f32_to_e4m3(-0.0f), 0x80);
  EXPECT_EQ(f32_to_e4m3(0x1p-9f), 0x01);           // smallest subnormal
  EXPECT_EQ(f32_to_e4m3(0x1p-10f), 0x00);          // half of it: tie, goes to even (zero)
  EXPECT_EQ(f32_to_e4m3(-0x1p-10f), 0x80);
  EXPECT_EQ(f32_to_e4m3(0x1.000002p-10f), 0x01);   // just past the tie
  EXPECT_EQ(f32_to_e4m3(0x3p-10f), 0x02);          // tie between codes 1 and 2 → 2
  EXPECT_EQ(f32_to_e4m3(0x7.8p-9f), 0x08);         // tie between 7·2^-9 and 2^-6 (smallest normal) → 0x08
  EXPECT_EQ(f32_to_e4m3(1.0625f), 0x38);           // tie between 1 and 1.125 → 1 (mantissa 000)
  EXPECT_EQ(f32_to_e4m3(1.1875f), 0x3A);           // tie between 1.125 and 1.25 → 1.25 (mantissa 010)
}

TEST(FormatsEncodeCases, E4M3NonSaturatingOverflowsToNan) {
  EXPECT_EQ(f32_to_e4m3_nonsaturating(464.0f), 0x7E);  // the tie still rounds down to 448
  EXPECT_EQ(f32_to_e4m3_nonsaturating(464.00003f), 0x7F);
  EXPECT_EQ(f32_to_e4m3_nonsaturating(-500.0f), 0xFF);
  EXPECT_EQ(f32_to_e4m3_nonsaturating(kInf), 0x7F);
  EXPECT_EQ(f32_to_e4m3_nonsaturating(-kInf), 0xFF);
  EXPECT_EQ(f32_to_e4m3_nonsaturating(-kNan), 0xFF);
}

TEST(FormatsEncodeCases, E5M2) {
  EXPECT_EQ(f32_to_e5m2(57344.0f), 0x7B);
  EXPECT_EQ(f32_to_e5m2(61439.996f), 0x7B);
  EXPECT_EQ(f32_to_e5m2(61440.0f), 0x7C);  // tie between 57344 (odd mantissa 11) and 65536 → inf
  EXPECT_EQ(f32_to_e5m2(-kInf), 0xFC);
  EXPECT_EQ(f32_to_e5m2(kNan), 0x7E);
  EXPECT_EQ(f32_to_e5m2(-kNan), 0xFE);
  EXPECT_EQ(f32_to_e5m2(0x1p-17f), 0x00);  // half the smallest subnormal: tie to zero
  EXPECT_EQ(f32_to_e5m2(0x3p-17f), 0x02);
  EXPECT_EQ(f32_to_e5m2_satfinite(61440.0f), 0x7B);
  EXPECT_EQ(f32_to_e5m2_satfinite(-kInf), 0xFB);
  EXPECT_EQ(f32_to_e5m2_satfinite(kNan), 0x7F);
}

TEST(FormatsEncodeCases, Ue4m3ScaleEncoder) {
  EXPECT_EQ(f32_to_ue4m3(448.0f), 0x7E);
  EXPECT_EQ(f32_to_ue4m3(1e9f), 0x7E);
  EXPECT_EQ(f32_to_ue4m3(kInf), 0x7E);
  EXPECT_EQ(f32_to_ue4m3(-kInf), 0x00);
  EXPECT_EQ(f32_to_ue4m3(-3.0f), 0x00);
  EXPECT_EQ(f32_to_ue4m3(-0.0f), 0x00);
  EXPECT_EQ(f32_to_ue4m3(kNan), 0x7F);
  EXPECT_EQ(f32_to_ue4m3(-kNan), 0x7F);
  EXPECT_EQ(f32_to_ue4m3(1.0f), 0x38);
}

TEST(FormatsEncodeCases, Bf16) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(0x1.01p0f), 0x3F80);   // tie between 1 and 1 + 2^-7 → 1 (even)
  EXPECT_EQ(f32_to_bf16(0x1.03p0f), 0x3F82);   // tie between 1 + 2^-7 and 1 + 2^-6 → the even one
  EXPECT_EQ(f32_to_bf16(0x1.FEp127f), 0x7F7F); // largest finite bf16
  EXPECT_EQ(f32_to_bf16(0x1.FFp127f), 0x7F80); // midpoint past it → inf
  EXPECT_EQ(f32_to_bf16(-kInf), 0xFF80);
  EXPECT_EQ(f32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);  // 2^-149 < half of 2^-133
  EXPECT_EQ(f32_to_bf16(0x1p-133f), 0x0001);
  EXPECT_EQ(f32_to_bf16(float_from_bits(0x7F800001u)), 0x7FC0);  // signalling NaN → quiet, not inf
  EXPECT_EQ(f32_to_bf16(float_from_bits(0xFFFFFFFFu)), 0xFFFF);
}

TEST(FormatsEncodeCases, F16) {
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.996f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // tie past the largest finite (odd mantissa) → inf
  EXPECT_EQ(f32_to_f16(-1e10f), 0xFC00);
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);
  EXPECT_EQ(f32_to_f16(0x1.000002p-25f), 0x0001);
  EXPECT_EQ(f32_to_f16(-0x1p-26f), 0x8000);
  EXPECT_EQ(f32_to_f16(0x1.FFCp-15f), 0x0400);  // tie between the largest subnormal and 2^-14 → 2^-14
  EXPECT_EQ(f32_to_f16(float_from_bits(0x7F800001u)), 0x7E00);
  EXPECT_EQ(f32_to_f16(float_from_bits(0xFFC02000u)), 0xFE01);  // sign and top payload bits kept
}

TEST(FormatsEncodeCases, CheckUe4m3ScalesNamesTheBadElement) {
  const uint8_t good[] = {0x00, 0x01, 0x38, 0x7E};
  EXPECT_NO_THROW(check_ue4m3_scales(good, 4, "w.safetensors: a.weight_scale"));
  const uint8_t negative[] = {0x38, 0xB8};
  try {
    check_ue4m3_scales(negative, 2, "w.safetensors: a.weight_scale");
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "w.safetensors: a.weight_scale: block scale 1 is 0xB8, which has the sign bit set; UE4M3 scales "
              "must be non-negative");
  }
  const uint8_t nan[] = {0x38, 0x38, 0x7F};
  try {
    check_ue4m3_scales(nan, 3, "s");
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "s: block scale 2 is 0x7F, the E4M3 NaN code; expected a finite scale");
  }
}

// ------------------------------------------------------------------------------------------------
// Every encoder against the reference on a dense sample.

struct EncoderUnderTest {
  std::string name;
  test::BinaryFormat format;
  std::function<uint32_t(float)> encode;
  // The expected code for any input, built from the reference plus the encoder's documented NaN/inf rules.
  std::function<uint32_t(const RefEncoder&, float)> expect;
};

uint32_t sign_of(float x, uint32_t sign_bit) { return std::signbit(x) ? sign_bit : 0u; }

std::vector<EncoderUnderTest> all_encoders() {
  std::vector<EncoderUnderTest> encoders;
  encoders.push_back({"bf16", test::kRefBF16, [](float x) { return uint32_t{f32_to_bf16(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        if (std::isnan(x)) return (test::bits_of_float(x) >> 16) | 0x40u;
                        if (std::isinf(x)) return sign_of(x, 0x8000u) | 0x7F80u;
                        return ref.encode(x, Overflow::kInf, 0x7F80u, 0);
                      }});
  encoders.push_back({"f16", test::kRefF16, [](float x) { return uint32_t{f32_to_f16(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        const uint32_t s = sign_of(x, 0x8000u);
                        if (std::isnan(x)) return s | 0x7E00u | ((test::bits_of_float(x) >> 13) & 0x3FFu);
                        if (std::isinf(x)) return s | 0x7C00u;
                        return ref.encode(x, Overflow::kInf, 0x7C00u, 0);
                      }});
  encoders.push_back({"e4m3", test::kRefE4M3, [](float x) { return uint32_t{f32_to_e4m3(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        if (std::isnan(x)) return 0x7Fu;
                        if (std::isinf(x)) return sign_of(x, 0x80u) | 0x7Eu;
                        return ref.encode(x, Overflow::kSaturate, 0, 0);
                      }});
  encoders.push_back({"e4m3_nonsaturating", test::kRefE4M3,
                      [](float x) { return uint32_t{f32_to_e4m3_nonsaturating(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        if (std::isnan(x) || std::isinf(x)) return sign_of(x, 0x80u) | 0x7Fu;
                        return ref.encode(x, Overflow::kNan, 0, 0x7Fu);
                      }});
  encoders.push_back({"e5m2", test::kRefE5M2, [](float x) { return uint32_t{f32_to_e5m2(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        if (std::isnan(x)) return sign_of(x, 0x80u) | 0x7Eu;
                        if (std::isinf(x)) return sign_of(x, 0x80u) | 0x7Cu;
                        return ref.encode(x, Overflow::kInf, 0x7Cu, 0);
                      }});
  encoders.push_back({"e5m2_satfinite", test::kRefE5M2, [](float x) { return uint32_t{f32_to_e5m2_satfinite(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        if (std::isnan(x)) return 0x7Fu;
                        if (std::isinf(x)) return sign_of(x, 0x80u) | 0x7Bu;
                        return ref.encode(x, Overflow::kSaturate, 0, 0);
                      }});
  encoders.push_back({"e2m1", test::kRefE2M1, [](float x) { return uint32_t{f32_to_e2m1(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        if (std::isnan(x)) return 0x7u;
                        if (std::isinf(x)) return sign_of(x, 0x8u) | 0x7u;
                        return ref.encode(x, Overflow::kSaturate, 0, 0);
                      }});
  encoders.push_back({"ue4m3", test::kRefE4M3, [](float x) { return uint32_t{f32_to_ue4m3(x)}; },
                      [](const RefEncoder& ref, float x) -> uint32_t {
                        if (std::isnan(x)) return 0x7Fu;
                        if (std::signbit(x)) return 0x00u;
                        if (std::isinf(x)) return 0x7Eu;
                        return ref.encode(x, Overflow::kSaturate, 0, 0);
                      }});
  return encoders;
}

// Float32 bit patterns within `radius` ulps of |v| for each value v, both signs.
void add_neighbourhood(double v, uint32_t radius, std::vector<uint32_t>* patterns) {
  const auto center = test::bits_of_float(static_cast<float>(v));
  for (uint32_t sign : {0u, 0x80000000u}) {
    for (uint32_t d = 0; d <= 2 * radius; ++d) {
      const int64_t bits = static_cast<int64_t>(center) - radius + d;
      if (bits < 0 || bits > 0x7FFFFFFF) continue;
      patterns->push_back(sign | static_cast<uint32_t>(bits));
    }
  }
}

// The sample: every 997th float32 pattern (about 4.3 million, covering NaNs, infinities, subnormals and
// every binade), plus ±8 ulps around every representable value, every midpoint between neighbours
// (where RNE ties happen) and the overflow threshold max + ulp(max)/2. `stride` thins the regular part
// for the 16-bit formats whose neighbourhoods alone are millions of patterns.
std::vector<uint32_t> sample_patterns(const RefEncoder& ref, uint32_t stride) {
  std::vector<uint32_t> patterns;
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += stride) patterns.push_back(static_cast<uint32_t>(bits));
  const auto& values = ref.finite_values();
  for (size_t i = 0; i < values.size(); ++i) {
    add_neighbourhood(values[i].first, 8, &patterns);
    if (i + 1 < values.size()) add_neighbourhood((values[i].first + values[i + 1].first) / 2, 8, &patterns);
  }
  const double max = values.back().first;
  const double max_ulp = max - values[values.size() - 2].first;
  add_neighbourhood(max + max_ulp / 2, 8, &patterns);
  return patterns;
}

TEST(FormatsEncodeSample, EveryEncoderMatchesNearestValueReference) {
  for (const EncoderUnderTest& encoder : all_encoders()) {
    const RefEncoder ref(encoder.format);
    const uint32_t stride = encoder.format.total_bits() == 16 ? 4099 : 997;
    const std::vector<uint32_t> patterns = sample_patterns(ref, stride);
    size_t mismatches = 0;
    for (uint32_t bits : patterns) {
      const float x = float_from_bits(bits);
      const uint32_t got = encoder.encode(x);
      const uint32_t want = encoder.expect(ref, x);
      if (got != want && ++mismatches <= 5) {
        ADD_FAILURE() << encoder.name << ": input bits 0x" << std::hex << bits << " (" << x << ") gave 0x" << got
                      << ", reference 0x" << want;
      }
    }
    EXPECT_EQ(mismatches, 0u) << encoder.name << " over " << patterns.size() << " patterns";
    EXPECT_GT(patterns.size(), 1000000u) << encoder.name;
  }
}

}  // namespace
}  // namespace fp4
