// Runs every op case of the harness: CPU fast path against the CPU scalar reference, on random shapes
// with ragged tails (seed: FP4_OP_SEED or the default in op_harness.cc). Also checks that the harness
// itself catches a wrong answer, so a passing run means something.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <hwy/targets.h>

#include <string>

#include "unit/ops/op_harness.h"

namespace fp4::test {
namespace {

// Random instances per op family on top of the fixed model-shaped ones.
constexpr int kCasesPerFamily = 24;

void expect_all_pass(const std::vector<std::unique_ptr<OpCase>>& cases) {
  ASSERT_FALSE(cases.empty());
  const auto results = run_cases(cases, cpu_fast_backend(), cpu_reference_backend());
  double worst_ratio = 0, worst_nmse = 0;
  for (const CaseResult& r : results) {
    EXPECT_TRUE(r.comparison.ok()) << r.case_name << ": " << r.comparison.summary() << " (seed " << op_test_seed()
                                   << ")";
    worst_ratio = std::max(worst_ratio, r.comparison.max_error_ratio);
    worst_nmse = std::max(worst_nmse, r.comparison.nmse);
  }
  // How much of its bound the fast path used: shows the bounds are not vacuous (printed, not asserted:
  // a better kernel may legitimately use less).
  std::printf("  %zu cases, worst |err|/bound %.3f, worst NMSE %.3e\n", results.size(), worst_ratio, worst_nmse);
}

class OpHarness : public ::testing::Test {
 protected:
  Rng rng_{op_test_seed()};
};

TEST_F(OpHarness, RmsnormFastMatchesReference) { expect_all_pass(make_rmsnorm_cases(rng_, kCasesPerFamily)); }
TEST_F(OpHarness, ActivationsFastMatchReference) { expect_all_pass(make_activation_cases(rng_, kCasesPerFamily)); }
TEST_F(OpHarness, SoftmaxFastMatchesReference) { expect_all_pass(make_softmax_cases(rng_, kCasesPerFamily)); }
TEST_F(OpHarness, TopkFastMatchesReference) { expect_all_pass(make_topk_cases(rng_, kCasesPerFamily)); }
TEST_F(OpHarness, RopeFastMatchesReference) { expect_all_pass(make_rope_cases(rng_, kCasesPerFamily)); }
TEST_F(OpHarness, AttentionFastMatchesReference) { expect_all_pass(make_attention_cases(rng_, kCasesPerFamily)); }
TEST_F(OpHarness, MatmulFastMatchesReference) { expect_all_pass(make_matmul_cases(rng_, 6)); }

// Every SIMD target this CPU supports and this build compiled, each forced in turn: the dispatch picks
// the best one, so without this the narrower paths (AVX2 on an AVX-512 machine, SSE4, scalar) would go
// untested where CI runs.
TEST_F(OpHarness, AllOpsOnEverySimdTarget) {
  const int64_t candidates[] = {HWY_AVX3_DL, HWY_AVX3, HWY_AVX2, HWY_SSE4, HWY_SSSE3, HWY_EMU128, HWY_SCALAR};
  const int64_t supported = hwy::SupportedTargets();
  int ran = 0;
  for (int64_t target : candidates) {
    if ((supported & target) == 0) continue;
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(std::string("SIMD target ") + hwy::TargetName(target));
    std::printf("  target %s:", hwy::TargetName(target));
    expect_all_pass(make_all_op_cases(rng_, 4));
    ++ran;
  }
  hwy::SetSupportedTargetsForTest(0);
  EXPECT_GE(ran, 1);
}

// The bounds must not be vacuous: the fast path's actual error should use a visible part of them on
// accumulation-heavy ops, and a perturbation a few bounds wide must be caught.
TEST_F(OpHarness, DetectsAnOutputPerturbedBeyondItsBound) {
  for (auto& op_case : make_all_op_cases(rng_, 1)) {
    const std::vector<float> ref = op_case->run(cpu_reference_backend());
    const std::vector<double> bound = op_case->error_bound(ref);
    std::vector<float> bad = ref;
    size_t target = 0;
    while (target < bad.size() && !std::isfinite(bad[target])) ++target;
    if (target == bad.size()) continue;  // e.g. top-k with k = 0
    // Move one element by 4× its bound (or by one ulp-scale step when the bound is 0: exact ops).
    const double step = bound[target] > 0 ? 4.0 * bound[target] : std::max(1e-30, std::fabs(ref[target]) * 1e-6);
    bad[target] = static_cast<float>(ref[target] + step);
    if (bad[target] == ref[target]) bad[target] = std::nextafter(ref[target], INFINITY);
    const Comparison c = compare_outputs(bad, ref, bound);
    EXPECT_FALSE(c.ok()) << op_case->name() << ": perturbation not detected; " << c.summary();
    EXPECT_EQ(c.first_violation, static_cast<int64_t>(target)) << op_case->name();
  }
}

TEST(OpHarnessCompare, NanInOneOutputOnlyIsAViolation) {
  const std::vector<float> ref = {1.0f, NAN, 3.0f};
  const std::vector<double> bound = {0.1, 0.1, 0.1};
  EXPECT_TRUE(compare_outputs({1.0f, NAN, 3.05f}, ref, bound).ok());
  EXPECT_FALSE(compare_outputs({1.0f, 2.0f, 3.0f}, ref, bound).ok());
  EXPECT_FALSE(compare_outputs({NAN, NAN, 3.0f}, ref, bound).ok());
  EXPECT_FALSE(compare_outputs({1.0f, NAN}, ref, bound).ok());  // size mismatch
}

TEST(OpHarnessCompare, ReportsNmseLikeGgml) {
  // NMSE = Σ(c − r)² / Σ r² = (0.1² + 0.2²) / (1² + 2²) = 0.05 / 5 = 0.01.
  const Comparison c = compare_outputs({1.1f, 2.2f}, {1.0f, 2.0f}, {1.0, 1.0});
  EXPECT_NEAR(c.nmse, 0.01, 1e-7);
  EXPECT_NEAR(c.max_abs_error, 0.2, 1e-6);
  EXPECT_TRUE(c.ok());
}

}  // namespace
}  // namespace fp4::test
