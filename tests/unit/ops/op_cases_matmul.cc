// Op cases for y = x·Wᵀ with W in each stored encoding, run through the harness like every other op so a
// device backend is checked against the CPU on the same table. u = 2^-24.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "fp4/base/formats.h"
#include "unit/ops/op_harness.h"

namespace fp4::test {
namespace {

class MatmulCase : public OpCase {
 public:
  MatmulCase(Rng& rng, WeightEncoding encoding, int64_t M, int64_t N, int64_t K) : M_(M), N_(N), K_(K) {
    w_.encoding = encoding;
    w_.rows = N;
    w_.cols = K;
    const std::vector<float> dense = rng.normals(N * K, 0.05f);  // trained-weight magnitudes
    abs_w_.resize(static_cast<size_t>(N * K));
    switch (encoding) {
      case WeightEncoding::kF32:
        bytes_.resize(dense.size() * 4);
        std::memcpy(bytes_.data(), dense.data(), bytes_.size());
        for (size_t i = 0; i < dense.size(); ++i) abs_w_[i] = std::fabs(dense[i]);
        break;
      case WeightEncoding::kBF16:
      case WeightEncoding::kF16: {
        bytes_.resize(dense.size() * 2);
        auto* p = reinterpret_cast<uint16_t*>(bytes_.data());
        for (size_t i = 0; i < dense.size(); ++i) {
          const bool bf = encoding == WeightEncoding::kBF16;
          p[i] = bf ? f32_to_bf16(dense[i]) : f32_to_f16(dense[i]);
          abs_w_[i] = std::fabs(bf ? bf16_to_f32(p[i]) : f16_to_f32(p[i]));
        }
        break;
      }
      case WeightEncoding::kFP8Block: {
        // DeepSeek layout: e4m3 codes and one f32 multiplier per 128×128 block (partial edge blocks).
        const int64_t bn = (N + 127) / 128, bk = (K + 127) / 128;
        fp8_scales_.resize(static_cast<size_t>(bn * bk));
        for (float& s : fp8_scales_) s = rng.uniform(0.5f, 2.0f) * 0.05f / 448.0f * 4.0f;
        bytes_.resize(dense.size());
        for (int64_t n = 0; n < N; ++n) {
          for (int64_t k = 0; k < K; ++k) {
            const size_t i = static_cast<size_t>(n * K + k);
            const float s = fp8_scales_[static_cast<size_t>((n / 128) * bk + k / 128)];
            bytes_[i] = f32_to_e4m3(dense[i] / s);
            abs_w_[i] = std::fabs(static_cast<double>(e4m3_to_f32(bytes_[i])) * s);
          }
        }
        w_.block_scale_inv = fp8_scales_.data();
        break;
      }
      case WeightEncoding::kNVFP4: {
        // ModelOpt layout: per 16 elements a UE4M3 scale (amax/6, divided by the global scale).
        w_.global_scale = 0.05f * 4.0f / (6.0f * 448.0f);
        nvfp4_scales_.resize(static_cast<size_t>(N * K / 16));
        bytes_.assign(static_cast<size_t>(N * K / 2), 0);
        for (int64_t b = 0; b < N * K / 16; ++b) {
          float amax = 0;
          for (int i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(dense[static_cast<size_t>(b * 16 + i)]));
          uint8_t code = f32_to_ue4m3(amax / 6.0f / w_.global_scale);
          if (ue4m3_to_f32(code) == 0.0f) code = f32_to_ue4m3(0.002f);  // keep blocks non-degenerate
          nvfp4_scales_[static_cast<size_t>(b)] = code;
          const float scale = ue4m3_to_f32(code) * w_.global_scale;
          for (int i = 0; i < 16; ++i) {
            const size_t e = static_cast<size_t>(b * 16 + i);
            const uint8_t q = f32_to_e2m1(dense[e] / scale);
            bytes_[e / 2] |= static_cast<uint8_t>(e % 2 == 0 ? q : q << 4);
            abs_w_[e] = std::fabs(static_cast<double>(e2m1_to_f32(q)) * ue4m3_to_f32(code) * w_.global_scale);
          }
        }
        w_.block_scale = nvfp4_scales_.data();
        break;
      }
    }
    w_.data = bytes_.data();
    x_ = rng.normals(M * K, 1.0f);
  }
  std::string name() const override {
    return fmt::format("matmul {} M={} N={} K={}", encoding_name(w_.encoding), M_, N_, K_);
  }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<float> y(static_cast<size_t>(M_ * N_), NAN);
    b.matmul(w_, x_.data(), M_, y.data());
    return y;
  }
  std::vector<double> error_bound(const std::vector<float>& ref) const override {
    // f32 accumulation: the weight decodes with at most one f32 rounding per element (e4m3·scale, or
    // e2m1·ue4m3·global) and the K products are summed in some order with a reduction tree at most
    // K + 32 roundings deep: γ_(K+34)·Σ|x_k||W_k|. Reference: exact sum, rounded once: u·|ref|.
    // NVFP4 backends may quantize each 16-block of x to int8 with step d = amax/127 (|x − q·d| ≤ d/2,
    // up to 2^-10 relative from rounding x/d and d); that adds Σ_b (1 + 2^-10)·(d_b/2)·Σ_{k∈b}|W_k|
    // and widens the γ term's |x| by d/2. The term is included for NVFP4 whichever path runs.
    std::vector<double> bound(ref.size());
    const bool int8_term = w_.encoding == WeightEncoding::kNVFP4;
    for (int64_t m = 0; m < M_; ++m) {
      const float* xr = x_.data() + m * K_;
      for (int64_t n = 0; n < N_; ++n) {
        const double* wr = abs_w_.data() + n * K_;
        double magnitude = 0, quant = 0;
        for (int64_t b = 0; b < K_; b += 16) {
          const int64_t end = std::min(K_, b + 16);
          double amax = 0;
          for (int64_t k = b; k < end; ++k) amax = std::max(amax, std::fabs(static_cast<double>(xr[k])));
          const double half_step = int8_term ? amax / 127.0 / 2.0 : 0.0;
          for (int64_t k = b; k < end; ++k) {
            magnitude += (std::fabs(static_cast<double>(xr[k])) + half_step) * wr[k];
            quant += (1.0 + 0x1p-10) * half_step * wr[k];
          }
        }
        const size_t o = static_cast<size_t>(m * N_ + n);
        bound[o] = quant + gamma_n(K_ + 34) * magnitude + kUnitRoundoff * std::fabs(ref[o]);
      }
    }
    return bound;
  }

 private:
  int64_t M_, N_, K_;
  WeightView w_;
  std::vector<uint8_t> bytes_;
  std::vector<float> fp8_scales_;
  std::vector<uint8_t> nvfp4_scales_;
  std::vector<double> abs_w_;  // |decoded W| [N, K]
  std::vector<float> x_;
};

}  // namespace

std::vector<std::unique_ptr<OpCase>> make_matmul_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> cases;
  static constexpr WeightEncoding kEncodings[] = {WeightEncoding::kF32, WeightEncoding::kBF16, WeightEncoding::kF16,
                                                  WeightEncoding::kFP8Block, WeightEncoding::kNVFP4};
  for (WeightEncoding e : kEncodings) {
    cases.push_back(std::make_unique<MatmulCase>(rng, e, 1, 200, 576));  // decode row, 576 = 4.5 FP8 blocks
    for (int i = 0; i < count; ++i) {
      const int64_t M = rng.integer(0, 2) == 0 ? rng.integer(1, 3) : rng.ragged(40);
      const int64_t K = e == WeightEncoding::kNVFP4 ? 16 * rng.ragged(40) : rng.ragged(700);
      cases.push_back(std::make_unique<MatmulCase>(rng, e, M, rng.ragged(300), K));
    }
  }
  return cases;
}

}  // namespace fp4::test
