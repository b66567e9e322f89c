// Op cases for RMSNorm, SiLU·up, sigmoid, softmax and top-k. Each bound is derived for the fast path's
// arithmetic against a reference computed in double and rounded once to f32 (so the reference itself is
// within 0.5u of the exact value; every bound below adds 1u·|ref| for that). u = 2^-24.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "unit/ops/op_harness.h"

namespace fp4::test {
namespace {

// Results in the subnormal range carry an absolute rounding error of up to 2^-150 per operation instead
// of a relative one; 16 denormal units cover the handful of roundings in any of these ops.
constexpr double kSubnormalFloor = 16.0 * std::numeric_limits<float>::denorm_min();

class RmsnormCase : public OpCase {
 public:
  RmsnormCase(Rng& rng, int64_t rows, int64_t dim, int64_t pad, float eps)
      : rows_(rows), dim_(dim), stride_(dim + pad), eps_(eps) {
    // Activations with a wide per-row scale (RMS from 1e-3 to 1e2) and a gamma around 1, as trained norms.
    x_.resize(static_cast<size_t>(rows * stride_));
    for (int64_t r = 0; r < rows; ++r) {
      const float scale = std::pow(10.0f, rng.uniform(-3.0f, 2.0f));
      for (int64_t i = 0; i < stride_; ++i) x_[static_cast<size_t>(r * stride_ + i)] = rng.normal(0.0f, scale);
    }
    gamma_ = rng.normals(dim, 0.3f);
    for (float& g : gamma_) g += 1.0f;
  }
  std::string name() const override {
    return fmt::format("rmsnorm rows={} dim={} stride={} eps={:g}", rows_, dim_, stride_, eps_);
  }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<float> out(static_cast<size_t>(rows_ * stride_), 0.0f);
    b.rmsnorm(x_.data(), stride_, gamma_.data(), eps_, rows_, dim_, out.data(), stride_);
    return out;
  }
  std::vector<double> error_bound(const std::vector<float>& ref) const override {
    // Fast path: Σx² in f32 over any order, ≤ γ_(dim) relative (lane partial sums make chains shorter;
    // the lane reduction adds ≤ 4 levels, folded into the +8 below). Then /dim, +eps, sqrt (halves the
    // relative error, adds 0.5u), 1/·, ·x, ·gamma: 5 more roundings. So
    //   rel ≤ ½·(dim + 4 + 2)·u + 5u ≤ (dim/2 + 8)·u,   plus 1u for the reference's own rounding.
    const double rel = (static_cast<double>(dim_) / 2.0 + 9.0) * kUnitRoundoff;
    std::vector<double> bound(ref.size());
    for (size_t i = 0; i < ref.size(); ++i) bound[i] = rel * std::fabs(ref[i]) + kSubnormalFloor;
    return bound;
  }

 private:
  int64_t rows_, dim_, stride_;
  float eps_;
  std::vector<float> x_, gamma_;
};

class SiluMulCase : public OpCase {
 public:
  SiluMulCase(Rng& rng, int64_t rows, int64_t n, bool extremes) : rows_(rows), n_(n) {
    const int64_t stride = 2 * n;  // fused gate_up buffer [rows, 2n]
    gate_up_ = rng.normals(rows * stride, 3.0f);
    if (extremes) {  // saturated, subnormal-producing and underflowing arguments, both signs
      const float specials[] = {-120.0f, -89.0f, -88.5f, -87.0f, -30.0f, 30.0f, 88.5f, 120.0f, 0.0f, -0.0f};
      for (int64_t i = 0; i < rows * n; i += 7) {
        const int64_t r = i / n, c = i % n;
        gate_up_[static_cast<size_t>(r * stride + c)] = specials[static_cast<size_t>(i % 10)];
      }
    }
  }
  std::string name() const override { return fmt::format("silu_mul rows={} n={} (fused gate_up)", rows_, n_); }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<float> out(static_cast<size_t>(rows_ * n_));
    b.silu_mul_rows(gate_up_.data(), 2 * n_, gate_up_.data() + n_, 2 * n_, rows_, n_, out.data(), n_);
    return out;
  }
  std::vector<double> error_bound(const std::vector<float>& ref) const override {
    // Fast: e = exp(−|g|) within 1 ulp (≤ 2u relative: Highway's Exp and glibc's expf are both ≤ 1 ulp
    // for normal results); 1 + e adds u (e's error enters damped by e/(1+e) < 1); 1/(1+e) adds u; for
    // g < 0, σ = e·(1/(1+e)) carries e's 2u again plus u. So σ is within 5u; g·σ and ·up add 2u:
    //   rel ≤ 7u, plus 1u for the reference → 8u.
    // When |g| > 87.3, e is subnormal and exact only to a few units of 2^-149 (absolute), which g·up
    // scales: add |g·up|·16·2^-149.
    std::vector<double> bound(ref.size());
    for (int64_t r = 0; r < rows_; ++r) {
      for (int64_t i = 0; i < n_; ++i) {
        const size_t o = static_cast<size_t>(r * n_ + i);
        const double g = gate_up_[static_cast<size_t>(r * 2 * n_ + i)];
        const double up = gate_up_[static_cast<size_t>(r * 2 * n_ + n_ + i)];
        bound[o] = 8.0 * kUnitRoundoff * std::fabs(ref[o]) + std::fabs(g * up) * kSubnormalFloor + kSubnormalFloor;
      }
    }
    return bound;
  }

 private:
  int64_t rows_, n_;
  std::vector<float> gate_up_;  // [rows, 2n]: gate then up
};

class SigmoidCase : public OpCase {
 public:
  SigmoidCase(Rng& rng, int64_t n) : x_(rng.normals(n, 8.0f)) {
    const float specials[] = {-200.0f, -104.5f, -88.5f, -87.0f, -20.0f, 0.0f, 20.0f, 88.5f, 200.0f};
    for (size_t i = 0; i < x_.size() && i < std::size(specials); ++i) x_[i * 3 % x_.size()] = specials[i];
  }
  std::string name() const override { return fmt::format("sigmoid n={}", x_.size()); }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<float> out(x_.size());
    b.sigmoid(x_.data(), static_cast<int64_t>(x_.size()), out.data());
    return out;
  }
  std::vector<double> error_bound(const std::vector<float>& ref) const override {
    // Fast, as for SiLU above: σ within 5u (normal range), reference 1u → 6u; subnormal e: the floor.
    std::vector<double> bound(ref.size());
    for (size_t i = 0; i < ref.size(); ++i) bound[i] = 6.0 * kUnitRoundoff * std::fabs(ref[i]) + kSubnormalFloor;
    return bound;
  }

 private:
  std::vector<float> x_;
};

class SoftmaxCase : public OpCase {
 public:
  SoftmaxCase(Rng& rng, int64_t rows, int64_t n, float spread, bool masked) : rows_(rows), n_(n) {
    x_ = rng.normals(rows * n, spread);
    if (masked) {  // causal-mask style −inf tails, and one fully masked row
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t keep = r == rows - 1 ? 0 : rng.integer(1, n);
        for (int64_t i = keep; i < n; ++i) x_[static_cast<size_t>(r * n + i)] = -INFINITY;
      }
    }
  }
  std::string name() const override { return fmt::format("softmax rows={} n={}", rows_, n_); }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<float> out(x_.size());
    b.softmax(x_.data(), rows_, n_, out.data());
    return out;
  }
  std::vector<double> error_bound(const std::vector<float>& ref) const override {
    // Fast, per row with m = max: d_i = fl(x_i − m) has error u·|d_i|, which exp turns into a relative
    // error u·|d_i|; exp adds 2u (1 ulp). The f32 sum inherits the largest term error u·(D + 2) with
    // D = max_j |d_j| over finite entries, and adds γ_n. 1/sum and the final product add 2u; reference 1u:
    //   rel_i ≤ u·(|d_i| + 2) + u·(D + 2) + γ_n + 3u.
    std::vector<double> bound(ref.size());
    for (int64_t r = 0; r < rows_; ++r) {
      const float* xr = x_.data() + r * n_;
      double m = -INFINITY;
      for (int64_t i = 0; i < n_; ++i) m = std::max(m, static_cast<double>(xr[i]));
      double spread = 0;
      for (int64_t i = 0; i < n_; ++i) {
        if (std::isfinite(xr[i])) spread = std::max(spread, m - xr[i]);
      }
      for (int64_t i = 0; i < n_; ++i) {
        const size_t o = static_cast<size_t>(r * n_ + i);
        const double d = std::isfinite(xr[i]) ? m - xr[i] : 0.0;
        const double rel = kUnitRoundoff * (d + 2 + spread + 2 + 3) + gamma_n(n_);
        bound[o] = rel * std::fabs(ref[o]) + kSubnormalFloor;
      }
    }
    return bound;
  }

 private:
  int64_t rows_, n_;
  std::vector<float> x_;
};

class TopkCase : public OpCase {
 public:
  TopkCase(Rng& rng, int64_t n, int64_t k, int distinct_values) : n_(n), k_(k) {
    // distinct_values > 0 draws from a small set so ties are everywhere (the tie rule is then tested).
    x_.resize(static_cast<size_t>(n));
    for (float& v : x_) {
      v = distinct_values > 0 ? static_cast<float>(rng.integer(0, distinct_values - 1)) * 0.25f - 1.0f
                              : rng.normal(0.0f, 1.0f);
    }
    if (distinct_values > 0 && n > 3) {
      x_[static_cast<size_t>(rng.integer(0, n - 1))] = NAN;
      x_[static_cast<size_t>(rng.integer(0, n - 1))] = -0.0f;
      x_[static_cast<size_t>(rng.integer(0, n - 1))] = -INFINITY;
    }
  }
  std::string name() const override { return fmt::format("topk n={} k={}", n_, k_); }
  std::vector<float> run(const OpBackend& b) const override {
    std::vector<int32_t> idx(static_cast<size_t>(k_));
    std::vector<float> val(static_cast<size_t>(k_));
    b.topk(x_.data(), n_, k_, idx.data(), val.data());
    std::vector<float> out;
    for (int32_t i : idx) out.push_back(static_cast<float>(i));
    for (float v : val) out.push_back(v);
    return out;
  }
  std::vector<double> error_bound(const std::vector<float>& ref) const override {
    // Selection has no arithmetic: indices and values must match exactly.
    return std::vector<double>(ref.size(), 0.0);
  }

 private:
  int64_t n_, k_;
  std::vector<float> x_;
};

}  // namespace

std::vector<std::unique_ptr<OpCase>> make_rmsnorm_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> cases;
  cases.push_back(std::make_unique<RmsnormCase>(rng, 2, 7168, 0, 1e-6f));  // DeepSeek hidden
  cases.push_back(std::make_unique<RmsnormCase>(rng, 3, 512, 64, 1e-6f));  // kv_a latent slice of a 576 row
  for (int i = 0; i < count; ++i) {
    cases.push_back(std::make_unique<RmsnormCase>(rng, rng.integer(1, 5), rng.ragged(3000), rng.integer(0, 3),
                                                  rng.integer(0, 1) ? 1e-6f : 1e-5f));
  }
  return cases;
}

std::vector<std::unique_ptr<OpCase>> make_activation_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> cases;
  cases.push_back(std::make_unique<SiluMulCase>(rng, 2, 2048, true));
  cases.push_back(std::make_unique<SigmoidCase>(rng, 256));
  for (int i = 0; i < count; ++i) {
    cases.push_back(std::make_unique<SiluMulCase>(rng, rng.integer(1, 4), rng.ragged(2500), i % 2 == 0));
    cases.push_back(std::make_unique<SigmoidCase>(rng, rng.ragged(600)));
  }
  return cases;
}

std::vector<std::unique_ptr<OpCase>> make_softmax_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> cases;
  cases.push_back(std::make_unique<SoftmaxCase>(rng, 4, 129280 / 8, 4.0f, false));  // vocabulary-sized rows
  for (int i = 0; i < count; ++i) {
    cases.push_back(std::make_unique<SoftmaxCase>(rng, rng.integer(1, 6), rng.ragged(2000),
                                                  rng.uniform(0.1f, 20.0f), i % 2 == 1));
  }
  return cases;
}

std::vector<std::unique_ptr<OpCase>> make_topk_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> cases;
  cases.push_back(std::make_unique<TopkCase>(rng, 256, 8, 0));   // DeepSeek-V3 experts
  cases.push_back(std::make_unique<TopkCase>(rng, 8, 4, 0));     // groups
  cases.push_back(std::make_unique<TopkCase>(rng, 64, 6, 3));    // V2-Lite experts, heavy ties
  cases.push_back(std::make_unique<TopkCase>(rng, 50000, 1000, 0));
  for (int i = 0; i < count; ++i) {
    const int64_t n = rng.ragged(5000);
    const int64_t k = rng.integer(0, 2) == 0 ? rng.integer(0, n) : rng.integer(0, std::min<int64_t>(n, 40));
    cases.push_back(std::make_unique<TopkCase>(rng, n, k, i % 3 == 0 ? static_cast<int>(rng.integer(1, 9)) : 0));
  }
  return cases;
}

}  // namespace fp4::test
