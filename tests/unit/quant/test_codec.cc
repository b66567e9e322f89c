// Properties of the NVFP4 and FP8 block encoders that do not need ModelOpt's goldens.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "fp4/base/formats.h"
#include "fp4/quant/nvfp4_codec.h"

namespace fp4::quant {
namespace {

TEST(Nvfp4Codec, GlobalScaleIsAmaxOver2688InFloat32) {
  for (auto arith : {GlobalScaleArith::kTrueDivision, GlobalScaleArith::kCudaReciprocal}) {
    EXPECT_EQ(nvfp4_global_scale(1.0f, arith), 1.0f / 2688.0f);
    EXPECT_EQ(nvfp4_global_scale(0.0f, arith), 1.0f);  // all-zero tensor: documented substitute for NaN
  }
  // The two roundings agree within one ulp and really differ for some amaxes (the GPU/CPU split).
  int differ = 0;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(0.0f, 10.0f);
  for (int i = 0; i < 10000; ++i) {
    const float a = u(rng);
    const float div = nvfp4_global_scale(a, GlobalScaleArith::kTrueDivision);
    const float mul = nvfp4_global_scale(a, GlobalScaleArith::kCudaReciprocal);
    ASSERT_EQ(div, a / 2688.0f);
    ASSERT_EQ(mul, a * (1.0f / 2688.0f));
    ASSERT_LE(std::fabs(div - mul), std::nextafter(div, 1e30f) - div);
    differ += div != mul;
  }
  EXPECT_GT(differ, 0);
}

TEST(Nvfp4Codec, EvenElementInLowNibbleAndTiesToEven) {
  // scale_2 = 1/448 and block amax 7: sb = 7·448/6 > 448 is clamped to 448 (code 0x7E), so the block
  // divisor is 448·scale_2 = 1 and the codes are those of w itself (7 saturates to 6).
  const float scale_2 = 1.0f / 448.0f;
  const std::vector<float> w{0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f,
                             -0.25f, -0.75f, -1.0f, 7.0f, 0.0f, -6.0f, 0.5f, 4.0f};
  std::vector<uint8_t> packed(8), scales(1);
  nvfp4_encode_rows(w.data(), 1, 16, scale_2, BlockScaleCast::kClamped, packed.data(), scales.data());
  EXPECT_EQ(scales[0], 0x7E);
  std::vector<float> back(16);
  nvfp4_decode_rows(packed.data(), scales.data(), scale_2, 1, 16, back.data());
  const float s = e4m3_to_f32(scales[0]) * scale_2;
  // Codes by RNE with ties to the even mantissa: 0.25→0, 0.75→1, 1.25→1, 1.75→2, 2.5→2, 3.5→4, 5→4.
  ASSERT_EQ(s, 1.0f);
  const std::vector<float> expected{0.0f, 1.0f, 1.0f, 2.0f, 2.0f, 4.0f, 4.0f, 6.0f,
                                    0.0f, -1.0f, -1.0f, 6.0f, 0.0f, -6.0f, 0.5f, 4.0f};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(back[i], expected[i]) << i;
  EXPECT_EQ(packed[0] & 0xF, f32_to_e2m1(w[0] / s));
  EXPECT_EQ(packed[0] >> 4, f32_to_e2m1(w[1] / s));
}

TEST(Nvfp4Codec, ZeroBlockGetsScaleOneAndTinyScaleClampsOrUnderflows) {
  EXPECT_EQ(nvfp4_block_scale_code(0.0f, 0.01f, BlockScaleCast::kClamped), f32_to_e4m3(1.0f));
  EXPECT_EQ(nvfp4_block_scale_code(0.0f, 0.01f, BlockScaleCast::kUnclampedV031), f32_to_e4m3(1.0f));
  // sb = 1e-9/(6·1e-3) ≈ 1.7e-7, far below E4M3's 2^-9: clamped → 2^-9 (code 0x01); 0.31 → 0.
  EXPECT_EQ(nvfp4_block_scale_code(1e-9f, 1e-3f, BlockScaleCast::kClamped), 0x01);
  EXPECT_EQ(nvfp4_block_scale_code(1e-9f, 1e-3f, BlockScaleCast::kUnclampedV031), 0x00);
  // A zero-scale block (0.31 behaviour) encodes to all-zero codes rather than dividing by zero.
  std::vector<float> w(16, 1e-9f);
  std::vector<uint8_t> packed(8, 0xFF), scales(1);
  nvfp4_encode_rows(w.data(), 1, 16, 1e-3f, BlockScaleCast::kUnclampedV031, packed.data(), scales.data());
  for (uint8_t b : packed) EXPECT_EQ(b, 0);
}

TEST(Nvfp4Codec, RoundTripErrorWithinOneBlockStep) {
  // Per element |w − ŵ| ≤ s where s = f32(scale)·scale_2: inside [−6s, 6s] the E2M1 grid's widest gap
  // is 2s (between 4 and 6), so RNE errs by ≤ 1·s; a block whose scale rounded down saturates at 6s,
  // and amax16 ≤ 6·sb·scale_2·(1 + 2^-4) (E4M3 RNE relative error ≤ 2^-4) errs by ≤ 0.375·s. The f32
  // divisions add ≤ 2 ulp, covered by the factor 1 + 1e-6.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  const int64_t rows = 13, cols = 96;
  std::vector<float> w(rows * cols);
  for (auto& x : w) x = normal(rng);
  const float scale_2 = nvfp4_global_scale(abs_max(w), GlobalScaleArith::kCudaReciprocal);
  std::vector<uint8_t> packed(rows * cols / 2), scales(rows * cols / 16);
  std::vector<float> back(rows * cols);
  nvfp4_encode_rows(w.data(), rows, cols, scale_2, BlockScaleCast::kClamped, packed.data(), scales.data());
  nvfp4_decode_rows(packed.data(), scales.data(), scale_2, rows, cols, back.data());
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float s = e4m3_to_f32(scales[i / 16]) * scale_2;
    ASSERT_LE(std::fabs(w[i] - back[i]), s * (1.0f + 1e-6f)) << i;
  }
}

TEST(Fp8BlockCodec, EdgeBlocksAndRelativeError) {
  // 130 × 200: a 2-row and a 72-column partial edge. Per element |w − ŵ| ≤ |w|·2^-4 (half an E4M3 ulp
  // for normals, 3 mantissa bits) + 2^-10·scale (half the smallest subnormal step, 2^-9·scale).
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t rows = 130, cols = 200;
  std::vector<float> w(rows * cols);
  for (auto& x : w) x = normal(rng);
  for (int64_t r = 128; r < 130; ++r)
    for (int64_t c = 128; c < 200; ++c) w[r * cols + c] = 0.0f;  // the 2×72 corner block is all zero
  std::vector<uint8_t> codes(rows * cols);
  std::vector<float> scale_inv(2 * 2), back(rows * cols);
  for (int64_t band = 0; band < 2; ++band) {
    const int64_t r0 = band * 128, n = std::min<int64_t>(128, rows - r0);
    fp8_block_encode_band(w.data() + r0 * cols, n, cols, codes.data() + r0 * cols, scale_inv.data() + band * 2);
    fp8_block_decode_band(codes.data() + r0 * cols, scale_inv.data() + band * 2, n, cols, back.data() + r0 * cols);
  }
  EXPECT_EQ(scale_inv[3], 1.0f);  // the all-zero edge block
  float amax00 = 0.0f;
  for (int64_t r = 0; r < 128; ++r)
    for (int64_t c = 0; c < 128; ++c) amax00 = std::max(amax00, std::fabs(w[r * cols + c]));
  EXPECT_EQ(scale_inv[0], amax00 / 448.0f);
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float s = scale_inv[(i / cols / 128) * 2 + (i % cols) / 128];
    ASSERT_LE(std::fabs(w[i] - back[i]), std::fabs(w[i]) * 0.0625f + s * 0x1p-10f) << i;
  }
}

}  // namespace
}  // namespace fp4::quant
