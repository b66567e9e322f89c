// y = x·Wᵀ: the fast path against the scalar reference for every encoding and every SIMD target this CPU
// runs, with ragged shapes; the reference against hand-computed values; malformed weights rejected.
//
// Error bounds (docs/kernels.md has the long form). u = 2^-24, γ_n = n·u/(1−n·u) (Higham: any order of
// summing n terms, or an n-term dot product, in f32 has relative error at most γ_n of Σ|terms|).
//  f32 path: the kernel decodes W exactly, except one f32 rounding of e4m3·scale (FP8) or of
//    e2m1·ue4m3·global (NVFP4 through a decode buffer), then sums K products with FMAs and a lane/chunk
//    reduction tree, at most K + 32 roundings deep. The reference is the exact sum rounded once. So
//      |fast − ref| <= γ_{K+34} · Σ_k |x_k|·|W_k| + u·|ref|.
//  NVFP4 with f32 activations (ActivationPrecision::kF32): e2m1·ue4m3/… is decoded exactly and the
//    global scale multiplies each output once instead of each weight (the reference rounds e2m1·ue4m3·g
//    per weight: at most u·Σ|x||W| apart, plus one rounding of the final product). The sum path is at
//    most K/L + 5·⌈K/512⌉ + 2 roundings deep (L >= 4 lanes), so with these 2 extra terms the depth stays
//    below K + 34 for every K >= 16 and the same bound holds, with no activation term.
//  NVFP4 int8 path: activations are quantized per 16-block with d = amax/127 and q = round(x/d);
//    |x − q·d| <= d/2 up to f32 rounding of x/d and d (< 2^-10 relative, see QuantizeRow), and the
//    integer products are exact, so
//      |fast − ref| <= Σ_blocks (1 + 2^-10)·(d_b/2)·Σ_{k∈b}|W_k| + γ_{K+34}·Σ_k (|x_k| + d_k/2)·|W_k| + u·|ref|.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/base/thread_pool.h"
#include "fp4/ops/matmul.h"
#include "hwy/targets.h"

namespace fp4::cpu {
namespace {

constexpr double kU = 0x1p-24;
double gamma(int64_t n) { return static_cast<double>(n) * kU / (1.0 - static_cast<double>(n) * kU); }

// A weight in stored encoding plus the storage the view points at.
struct TestWeight {
  WeightView view;
  std::vector<uint8_t> bytes;
  std::vector<float> fp8_scales;
  std::vector<uint8_t> nvfp4_scales;
};

TestWeight make_weight(WeightEncoding enc, int64_t N, int64_t K, std::mt19937_64& rng) {
  TestWeight t;
  t.view.encoding = enc;
  t.view.rows = N;
  t.view.cols = K;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> byte(0, 255);
  switch (enc) {
    case WeightEncoding::kF32: {
      t.bytes.resize(static_cast<size_t>(N * K) * 4);
      auto* p = reinterpret_cast<float*>(t.bytes.data());
      for (int64_t i = 0; i < N * K; ++i) p[i] = normal(rng);
      break;
    }
    case WeightEncoding::kBF16:
    case WeightEncoding::kF16: {
      t.bytes.resize(static_cast<size_t>(N * K) * 2);
      auto* p = reinterpret_cast<uint16_t*>(t.bytes.data());
      for (int64_t i = 0; i < N * K; ++i) {
        const float v = normal(rng) * 0.1f;
        p[i] = enc == WeightEncoding::kBF16 ? f32_to_bf16(v) : f32_to_f16(v);
      }
      break;
    }
    case WeightEncoding::kFP8Block: {
      t.bytes.resize(static_cast<size_t>(N * K));
      for (auto& b : t.bytes) {
        do {
          b = static_cast<uint8_t>(byte(rng));
        } while ((b & 0x7F) == 0x7F);  // no NaN codes: checkpoints hold finite weights
      }
      const int64_t sr = (N + 127) / 128;
      const int64_t sc = (K + 127) / 128;
      std::uniform_real_distribution<float> scale(1e-4f, 1e-2f);
      t.fp8_scales.resize(static_cast<size_t>(sr * sc));
      for (auto& s : t.fp8_scales) s = scale(rng);
      t.view.block_scale_inv = t.fp8_scales.data();
      break;
    }
    case WeightEncoding::kNVFP4: {
      t.bytes.resize(static_cast<size_t>(N * K / 2));
      for (auto& b : t.bytes) b = static_cast<uint8_t>(byte(rng));
      // Scales: mostly normal UE4M3 codes, some subnormal (0x01..0x07) and zero, never NaN or negative.
      std::uniform_int_distribution<int> code(0, 0x7E);
      t.nvfp4_scales.resize(static_cast<size_t>(N * K / 16));
      for (auto& s : t.nvfp4_scales) s = static_cast<uint8_t>(code(rng));
      t.view.block_scale = t.nvfp4_scales.data();
      t.view.global_scale = 1.0f / (6.0f * 448.0f);
      break;
    }
  }
  t.view.data = t.bytes.data();
  return t;
}

// |W[n,k]| for one row, decoded here from the stored bytes by the spec's formulas (nvfp4_format.md
// §1.4 and §3), independently of the kernels.
std::vector<double> abs_weight_row(const WeightView& w, int64_t n) {
  const int64_t K = w.cols;
  std::vector<double> row(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) {
    double v = 0.0;
    const int64_t i = n * K + k;
    switch (w.encoding) {
      case WeightEncoding::kF32: v = static_cast<const float*>(w.data)[i]; break;
      case WeightEncoding::kBF16: v = bf16_to_f32(static_cast<const uint16_t*>(w.data)[i]); break;
      case WeightEncoding::kF16: v = f16_to_f32(static_cast<const uint16_t*>(w.data)[i]); break;
      case WeightEncoding::kFP8Block: {
        const int64_t scale_cols = (K + w.block_cols - 1) / w.block_cols;
        v = static_cast<double>(e4m3_to_f32(static_cast<const uint8_t*>(w.data)[i])) *
            w.block_scale_inv[(n / w.block_rows) * scale_cols + k / w.block_cols];
        break;
      }
      case WeightEncoding::kNVFP4: {
        const uint8_t byte = static_cast<const uint8_t*>(w.data)[i / 2];
        v = static_cast<double>(e2m1_to_f32(k % 2 == 0 ? byte & 0xF : byte >> 4)) * ue4m3_to_f32(w.block_scale[i / 16]) *
            w.global_scale;
        break;
      }
    }
    row[static_cast<size_t>(k)] = std::fabs(v);
  }
  return row;
}

// Largest |fast − ref| / bound seen on the f32 paths and on the int8 NVFP4 path: printed so a reader
// can see how tight the bounds are.
double g_max_ratio = 0.0;
double g_max_ratio_int8 = 0.0;

// True when the active target computes NVFP4 through int8 activations.
bool nvfp4_uses_int8() {
  const std::string t = matmul_target_name();
  return t == "AVX3_DL" || t == "AVX3" || t == "AVX2";
}

// Compares matmul against matmul_reference with the bound above; returns the number of violations.
// act selects the NVFP4 activation precision (other encodings ignore it).
void check_case(ThreadPool& pool, WeightEncoding enc, int64_t N, int64_t K, int64_t M, uint64_t seed,
                ActivationPrecision act) {
  std::mt19937_64 rng(seed);
  TestWeight t = make_weight(enc, N, K, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(M * K));
  for (auto& v : x) v = normal(rng);
  std::vector<float> fast(static_cast<size_t>(M * N), std::nanf(""));
  std::vector<float> ref(static_cast<size_t>(M * N));
  matmul(pool, t.view, x.data(), M, fast.data(), MatmulOptions{act});
  matmul_reference(t.view, x.data(), M, ref.data());

  const bool int8 = enc == WeightEncoding::kNVFP4 && act == ActivationPrecision::kInt8 && nvfp4_uses_int8();
  // Check every output row of x, but only a sample of W rows for the bound (it needs |W| per row).
  const int64_t row_step = std::max<int64_t>(1, N / 7);
  for (int64_t n = 0; n < N; n += row_step) {
    const std::vector<double> absw = abs_weight_row(t.view, n);
    for (int64_t m = 0; m < M; ++m) {
      const float* xr = x.data() + m * K;
      double mag = 0.0;
      double quant = 0.0;
      for (int64_t b = 0; b < K; b += 16) {
        const int64_t end = std::min(K, b + 16);
        double amax = 0.0;
        for (int64_t k = b; k < end; ++k) amax = std::max(amax, std::fabs(static_cast<double>(xr[k])));
        const double half_d = int8 ? amax / 127.0 / 2.0 : 0.0;
        for (int64_t k = b; k < end; ++k) {
          mag += (std::fabs(static_cast<double>(xr[k])) + half_d) * absw[static_cast<size_t>(k)];
          quant += (1.0 + 0x1p-10) * half_d * absw[static_cast<size_t>(k)];
        }
      }
      const double r = ref[static_cast<size_t>(m * N + n)];
      const double bound = quant + gamma(K + 34) * mag + kU * std::fabs(r) + 1e-37;
      const double got = fast[static_cast<size_t>(m * N + n)];
      double& max_ratio = int8 ? g_max_ratio_int8 : g_max_ratio;
      if (bound > 0) max_ratio = std::max(max_ratio, std::fabs(got - r) / bound);
      ASSERT_LE(std::fabs(got - r), bound)
          << encoding_name(enc) << (int8 ? " (int8 activations)" : "") << " N=" << N << " K=" << K << " M=" << M << " at m=" << m << " n=" << n
          << " target=" << matmul_target_name() << " ref=" << r << " fast=" << got;
    }
  }
  // Every output was written (NaN-initialised above).
  for (int64_t i = 0; i < M * N; ++i) ASSERT_FALSE(std::isnan(fast[static_cast<size_t>(i)])) << "y[" << i << "] unset";
}

const WeightEncoding kAllEncodings[] = {WeightEncoding::kF32, WeightEncoding::kBF16, WeightEncoding::kF16,
                                        WeightEncoding::kFP8Block, WeightEncoding::kNVFP4};

// Runs `body` once per SIMD target this CPU supports and this build compiled, forcing dispatch to it.
template <typename Body>
void for_each_target(Body body) {
  const int64_t candidates[] = {HWY_AVX3_DL, HWY_AVX3, HWY_AVX2, HWY_SSE4, HWY_SSSE3, HWY_EMU128, HWY_SCALAR};
  const int64_t supported = hwy::SupportedTargets();
  int ran = 0;
  for (int64_t target : candidates) {
    if ((supported & target) == 0) continue;
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(std::string("target ") + hwy::TargetName(target));
    g_max_ratio = g_max_ratio_int8 = 0.0;
    body();
    std::printf("  %s: largest |fast - ref| / bound = %.3g (f32 paths), %.3g (NVFP4 int8 activations)\n",
                hwy::TargetName(target), g_max_ratio, g_max_ratio_int8);
    ++ran;
    if (::testing::Test::HasFatalFailure()) break;
  }
  hwy::SetSupportedTargetsForTest(0);
  EXPECT_GT(ran, 0);
}

TEST(Matmul, FastMatchesReferenceRaggedShapesAllEncodingsAllTargets) {
  ThreadPool pool(2);
  // K: NVFP4 needs multiples of 16; others get ragged K (not multiples of 8/16/128) too.
  struct Shape {
    int64_t N, K;
  };
  // NVFP4 K: odd and even numbers of 16-blocks, below and above the 512-column prefill chunk.
  const Shape shapes[] = {{1, 16}, {3, 48}, {17, 144}, {130, 272}, {33, 2064}, {257, 400}, {9, 1024}};
  const Shape ragged[] = {{5, 7}, {129, 131}, {19, 1000}, {2, 2049}};
  const int64_t Ms[] = {1, 2, 3, 4, 5, 7, 16, 33, 70};
  for_each_target([&] {
    uint64_t seed = 1;
    for (WeightEncoding enc : kAllEncodings) {
      for (const Shape& s : shapes) {
        for (int64_t M : Ms) {
          check_case(pool, enc, s.N, s.K, M, seed++, ActivationPrecision::kF32);
          if (::testing::Test::HasFatalFailure()) return;
          if (enc != WeightEncoding::kNVFP4) continue;
          check_case(pool, enc, s.N, s.K, M, seed++, ActivationPrecision::kInt8);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
      if (enc == WeightEncoding::kNVFP4) continue;
      for (const Shape& s : ragged) {
        for (int64_t M : {int64_t{1}, int64_t{3}, int64_t{9}}) {
          check_case(pool, enc, s.N, s.K, M, seed++, ActivationPrecision::kF32);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  });
}

TEST(Matmul, SingleThreadPoolGivesSameBoundedResult) {
  ThreadPool pool(1);
  for (WeightEncoding enc : kAllEncodings) {
    // K = 320 and 336: an even and an odd number of 16-blocks (the f32 NVFP4 kernels pair blocks).
    check_case(pool, enc, 45, 320, 6, 99, ActivationPrecision::kF32);
    check_case(pool, enc, 45, 320, 2, 97, ActivationPrecision::kF32);
    check_case(pool, enc, 45, 336, 3, 98, ActivationPrecision::kF32);
  }
  check_case(pool, WeightEncoding::kNVFP4, 45, 320, 6, 99, ActivationPrecision::kInt8);
}

// When each 16-block of x is an integer multiple q·d with |q| <= 127 and d = amax/127 exactly, the int8
// quantization is lossless, so the NVFP4 fast path must agree with the reference to f32 rounding alone.
TEST(Matmul, Nvfp4ExactWhenActivationsAreInt8Representable) {
  ThreadPool pool(2);
  std::mt19937_64 rng(7);
  const int64_t N = 37, K = 400, M = 6;
  TestWeight t = make_weight(WeightEncoding::kNVFP4, N, K, rng);
  std::uniform_int_distribution<int> qdist(-126, 126);
  std::vector<float> x(static_cast<size_t>(M * K));
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t b = 0; b < K; b += 16) {
      const float d = std::ldexp(1.0f, static_cast<int>(b % 7) - 3);  // a power of two: d·q exact
      for (int64_t i = 0; i < 16; ++i) x[static_cast<size_t>(m * K + b + i)] = static_cast<float>(qdist(rng)) * d;
      x[static_cast<size_t>(m * K + b)] = 127.0f * d;  // pins amax = 127·d, so the kernel's d is this d
    }
  }
  std::vector<float> fast(static_cast<size_t>(M * N)), ref(static_cast<size_t>(M * N));
  matmul(pool, t.view, x.data(), M, fast.data());
  matmul_reference(t.view, x.data(), M, ref.data());
  for (int64_t n = 0; n < N; ++n) {
    const std::vector<double> absw = abs_weight_row(t.view, n);
    for (int64_t m = 0; m < M; ++m) {
      double mag = 0.0;
      for (int64_t k = 0; k < K; ++k) mag += std::fabs(x[static_cast<size_t>(m * K + k)]) * absw[static_cast<size_t>(k)];
      const double r = ref[static_cast<size_t>(m * N + n)];
      EXPECT_LE(std::fabs(fast[static_cast<size_t>(m * N + n)] - r), gamma(K + 34) * mag + kU * std::fabs(r))
          << "m=" << m << " n=" << n;
    }
  }
}

// Hand-computed reference values, one per encoding. x = 1, 2, ..., K.
TEST(MatmulReference, HandComputedNvfp4) {
  // Row 0: every code 2 (= 1.0), block scale 0x38 (= 1.0), global 0.5 → 0.5·Σ_{i=1..16} i = 68.
  // Row 1: even k code 0xF (−6), odd k code 0x1 (0.5), block scale 0x40 (= 2.0), global 0.5:
  //   even-k x are 1,3,...,15 (sum 64), odd-k x are 2,4,...,16 (sum 72): (−6·64 + 0.5·72)·2·0.5 = −348.
  std::vector<uint8_t> data(16);
  for (int j = 0; j < 8; ++j) data[static_cast<size_t>(j)] = 0x22;
  for (int j = 0; j < 8; ++j) data[static_cast<size_t>(8 + j)] = 0x1F;
  const uint8_t scales[2] = {0x38, 0x40};
  WeightView w;
  w.encoding = WeightEncoding::kNVFP4;
  w.rows = 2;
  w.cols = 16;
  w.data = data.data();
  w.block_scale = scales;
  w.global_scale = 0.5f;
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  float y[2];
  matmul_reference(w, x.data(), 1, y);
  EXPECT_EQ(y[0], 68.0f);
  EXPECT_EQ(y[1], -348.0f);
  // The f32-activation fast path on every target: all partial sums here are small integers times
  // powers of two, so it is exact too (and pins the nibble order of its in-register decode).
  ThreadPool pool(1);
  for_each_target([&] {
    float fast[2] = {0.0f, 0.0f};
    matmul(pool, w, x.data(), 1, fast, MatmulOptions{ActivationPrecision::kF32});
    EXPECT_EQ(fast[0], 68.0f) << matmul_target_name();
    EXPECT_EQ(fast[1], -348.0f) << matmul_target_name();
  });
}

TEST(MatmulReference, HandComputedFp8BlockWithPartialEdgeBlock) {
  // W is 2 x 130 with 128x128 blocks: columns 0..127 use scale 0.25, columns 128..129 use scale 4.
  // Codes: 0x38 = 1.0 in row 0, 0xC0 = −2.0 in row 1. x = 1..130:
  //   row 0: 0.25·Σ_{1..128} + 4·(129 + 130) = 0.25·8256 + 1036 = 3100
  //   row 1: −2 times that = −6200.
  std::vector<uint8_t> data(260);
  std::fill(data.begin(), data.begin() + 130, uint8_t{0x38});
  std::fill(data.begin() + 130, data.end(), uint8_t{0xC0});
  const float scales[2] = {0.25f, 4.0f};
  WeightView w;
  w.encoding = WeightEncoding::kFP8Block;
  w.rows = 2;
  w.cols = 130;
  w.data = data.data();
  w.block_scale_inv = scales;
  std::vector<float> x(130);
  for (int i = 0; i < 130; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  float y[2];
  matmul_reference(w, x.data(), 1, y);
  EXPECT_EQ(y[0], 3100.0f);
  EXPECT_EQ(y[1], -6200.0f);
}

TEST(MatmulReference, HandComputedBf16F16F32) {
  // W = [[1, −2, 0.5], [3, 0, −1]], x = [[1, 2, 3], [−1, 0.5, 4]]:
  //   y = [[1−4+1.5, 3−3], [−1−1+2, −3−4]] = [[−1.5, 0], [0, −7]].
  const float wf[6] = {1, -2, 0.5f, 3, 0, -1};
  const uint16_t wb[6] = {0x3F80, 0xC000, 0x3F00, 0x4040, 0x0000, 0xBF80};
  const uint16_t wh[6] = {0x3C00, 0xC000, 0x3800, 0x4200, 0x0000, 0xBC00};
  const float x[6] = {1, 2, 3, -1, 0.5f, 4};
  const float want[4] = {-1.5f, 0.0f, 0.0f, -7.0f};
  const std::pair<WeightEncoding, const void*> cases[] = {
      {WeightEncoding::kF32, wf}, {WeightEncoding::kBF16, wb}, {WeightEncoding::kF16, wh}};
  for (const auto& [enc, data] : cases) {
    WeightView w;
    w.encoding = enc;
    w.rows = 2;
    w.cols = 3;
    w.data = data;
    float y[4];
    matmul_reference(w, x, 2, y);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], want[i]) << encoding_name(enc) << " i=" << i;
    ThreadPool pool(2);
    matmul(pool, w, x, 2, y);  // small integers: the fast path is exact too
    for (int i = 0; i < 4; ++i) EXPECT_EQ(y[i], want[i]) << "fast " << encoding_name(enc) << " i=" << i;
  }
}

// Every malformed view is rejected with fp4::Error by both entry points, naming the problem.
TEST(Matmul, RejectsMalformedWeights) {
  ThreadPool pool(2);
  std::vector<uint8_t> bytes(4096);
  std::vector<float> fscales(16, 1.0f);
  std::vector<float> x(256, 1.0f), y(256);
  auto nvfp4 = [&] {
    WeightView w;
    w.encoding = WeightEncoding::kNVFP4;
    w.rows = 4;
    w.cols = 32;
    w.data = bytes.data();
    w.block_scale = bytes.data();
    return w;
  };
  struct Bad {
    WeightView w;
    const char* expect;
  };
  std::vector<Bad> bad;
  {
    WeightView w = nvfp4();
    w.cols = 24;
    bad.push_back({w, "multiple of the 16-element"});
  }
  {
    WeightView w = nvfp4();
    w.data = nullptr;
    bad.push_back({w, "no data"});
  }
  {
    WeightView w = nvfp4();
    w.block_scale = nullptr;
    bad.push_back({w, "no block_scale"});
  }
  {
    WeightView w = nvfp4();
    w.global_scale = std::nanf("");
    bad.push_back({w, "non-finite global scale"});
  }
  {
    WeightView w = nvfp4();
    w.rows = 0;
    bad.push_back({w, "positive rows"});
  }
  {
    WeightView w;
    w.encoding = WeightEncoding::kFP8Block;
    w.rows = 4;
    w.cols = 8;
    w.data = bytes.data();
    bad.push_back({w, "no block_scale_inv"});
    w.block_scale_inv = fscales.data();
    w.block_cols = 0;
    bad.push_back({w, "block size"});
  }
  {
    WeightView w;
    w.encoding = static_cast<WeightEncoding>(42);
    w.rows = 1;
    w.cols = 1;
    w.data = bytes.data();
    bad.push_back({w, "not one this build knows"});
  }
  for (const Bad& b : bad) {
    for (int which = 0; which < 3; ++which) {
      try {
        if (which == 0) {
          matmul(pool, b.w, x.data(), 1, y.data());
        } else if (which == 1) {
          matmul(pool, b.w, x.data(), 1, y.data(), MatmulOptions{ActivationPrecision::kF32});
        } else {
          matmul_reference(b.w, x.data(), 1, y.data());
        }
        ADD_FAILURE() << "accepted a malformed weight; expected: " << b.expect;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(b.expect), std::string::npos) << e.what();
      }
    }
  }
  // Negative M and null activations are rejected too; M = 0 is a no-op.
  WeightView ok = nvfp4();
  EXPECT_THROW(matmul(pool, ok, x.data(), -1, y.data()), Error);
  EXPECT_THROW(matmul(pool, ok, nullptr, 1, y.data()), Error);
  EXPECT_NO_THROW(matmul(pool, ok, nullptr, 0, nullptr));
  const MatmulOptions f32{ActivationPrecision::kF32};
  EXPECT_THROW(matmul(pool, ok, x.data(), -1, y.data(), f32), Error);
  EXPECT_THROW(matmul(pool, ok, nullptr, 1, y.data(), f32), Error);
  EXPECT_NO_THROW(matmul(pool, ok, nullptr, 0, nullptr, f32));
}

}  // namespace
}  // namespace fp4::cpu
