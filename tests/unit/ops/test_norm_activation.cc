// RMSNorm, SiLU·up, sigmoid and softmax against hand-computed values and the semantics the models rely
// on (aliasing, strides, masked rows). Random-shape agreement with the references is in test_op_harness.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fp4/ops/activation.h"
#include "fp4/ops/norm.h"
#include "fp4/ops/softmax.h"

namespace fp4::cpu {
namespace {

TEST(Rmsnorm, HandComputedRow) {
  // x = [3, 4]: mean(x²) = 12.5, eps 0 → r = 1/√12.5 = 0.28284271; gamma = [1, 2] → [0.8485281, 2.2627417].
  const std::vector<float> x = {3.0f, 4.0f}, gamma = {1.0f, 2.0f};
  for (auto fn : {&reference::rmsnorm}) {
    std::vector<float> out(2);
    fn(x.data(), 2, gamma.data(), 0.0f, 1, 2, out.data(), 2);
    EXPECT_FLOAT_EQ(out[0], 0.84852814f);
    EXPECT_FLOAT_EQ(out[1], 2.2627417f);
  }
  std::vector<float> out(2);
  rmsnorm(x.data(), gamma.data(), 0.0f, 1, 2, out.data());
  EXPECT_FLOAT_EQ(out[0], 0.84852814f);
  EXPECT_FLOAT_EQ(out[1], 2.2627417f);
}

TEST(Rmsnorm, EpsDominatesAZeroRowAndInPlaceWorks) {
  // A zero row stays zero (0 · rsqrt(eps)); in place over a strided slice leaves the rest alone.
  std::vector<float> buf = {0, 0, 0, 9, 1, 1, 1, 9};  // two rows of 3 with stride 4, 9 = untouched pad
  const std::vector<float> gamma = {1, 1, 1};
  rmsnorm(buf.data(), 4, gamma.data(), 1e-6f, 2, 3, buf.data(), 4);
  EXPECT_EQ(buf[0], 0.0f);
  EXPECT_EQ(buf[3], 9.0f);
  EXPECT_EQ(buf[7], 9.0f);
  // Row [1,1,1]: 1/√(1 + 1e-6) = 0.9999995.
  EXPECT_NEAR(buf[4], 0.9999995f, 1e-7f);
}

TEST(Activation, SiluMulHandValues) {
  // silu(1) = 1/(1+e^-1) = 0.7310586; silu(−2) = −2/(1+e^2) = −0.2384058; silu(0) = 0.
  const std::vector<float> gate = {1.0f, -2.0f, 0.0f}, up = {2.0f, 3.0f, 5.0f};
  std::vector<float> out(3);
  silu_mul(gate.data(), up.data(), 3, out.data());
  EXPECT_NEAR(out[0], 1.4621172f, 2e-7f);
  EXPECT_NEAR(out[1], -0.7152175f, 2e-7f);
  EXPECT_EQ(out[2], 0.0f);
}

TEST(Activation, SaturatesWithoutNanOrInf) {
  // Every SIMD lane and the scalar tail: n = 37 (a ragged tail for 4, 8 and 16 lanes).
  std::vector<float> x(37), up(37, 1.0f), s(37), y(37);
  for (int i = 0; i < 37; ++i) x[i] = (i % 2 ? 1.0f : -1.0f) * static_cast<float>(i) * 10.0f;  // ±370
  sigmoid(x.data(), 37, s.data());
  silu_mul(x.data(), up.data(), 37, y.data());
  for (int i = 0; i < 37; ++i) {
    ASSERT_TRUE(std::isfinite(s[i]) && std::isfinite(y[i])) << i;
    if (x[i] >= 20) {
      EXPECT_EQ(s[i], 1.0f) << i;
      EXPECT_EQ(y[i], x[i]) << i;
    }
    if (x[i] <= -110) {
      EXPECT_LT(s[i], 1e-37f) << i;
      EXPECT_LE(std::fabs(y[i]), 1e-35f) << i;
    }
  }
  // NaN propagates.
  const float nan = NAN;
  float out = 0;
  sigmoid(&nan, 1, &out);
  EXPECT_TRUE(std::isnan(out));
}

TEST(Activation, FusedGateUpRows) {
  // gate_up [2, 2·3]; out [2, 3] = silu(gate) · up per row.
  const std::vector<float> gate_up = {1, -2, 0, 2, 3, 5, /* row 1 */ 0.5f, 4, -1, 1, 1, 1};
  std::vector<float> out(6), want(6);
  silu_mul_rows(gate_up.data(), 6, gate_up.data() + 3, 6, 2, 3, out.data(), 3);
  for (int r = 0; r < 2; ++r) reference::silu_mul(gate_up.data() + 6 * r, gate_up.data() + 6 * r + 3, 3, want.data() + 3 * r);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(out[i], want[i], 6e-7f * std::fabs(want[i]) + 1e-30f) << i;
}

TEST(Softmax, HandValuesMaskedAndEmptyRows) {
  // Row 0: [0, ln 3] → [1/4, 3/4]. Row 1: [5, −inf] → [1, 0]. Row 2: all −inf → zeros (documented).
  std::vector<float> x = {0.0f, std::log(3.0f), 5.0f, -INFINITY, -INFINITY, -INFINITY};
  softmax(x.data(), 3, 2, x.data());  // in place
  EXPECT_NEAR(x[0], 0.25f, 1e-7f);
  EXPECT_NEAR(x[1], 0.75f, 1e-7f);
  EXPECT_EQ(x[2], 1.0f);
  EXPECT_EQ(x[3], 0.0f);
  EXPECT_EQ(x[4], 0.0f);
  EXPECT_EQ(x[5], 0.0f);
}

TEST(Softmax, ShiftInvariantAndLargeLogitsStable) {
  // softmax(x + 1000) = softmax(x): no overflow for logits far beyond exp's range.
  std::vector<float> a(19), b(19), pa(19), pb(19);
  for (int i = 0; i < 19; ++i) {
    a[i] = 0.25f * static_cast<float>(i);
    b[i] = a[i] + 1000.0f;  // exact: 1000 + k/4 is representable
  }
  softmax(a.data(), 1, 19, pa.data());
  softmax(b.data(), 1, 19, pb.data());
  double total = 0;
  for (int i = 0; i < 19; ++i) {
    EXPECT_EQ(pa[i], pb[i]) << i;
    total += pa[i];
  }
  EXPECT_NEAR(total, 1.0, 19 * 0x1p-23);
}

}  // namespace
}  // namespace fp4::cpu
