// Op test harness: backend tables, random shapes and the comparison (see op_harness.h).
#include "unit/ops/op_harness.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace fp4::test {
namespace {

void cpu_fast_attention(const cpu::AttentionParams& params, const float* q, const cpu::KvView& kv, float* out) {
  cpu::attention(ThreadPool::global(), params, q, kv, out);
}

void cpu_fast_matmul(const WeightView& w, const float* x, int64_t M, float* y) {
  cpu::matmul(ThreadPool::global(), w, x, M, y);
}

OpBackend make_cpu_fast() {
  OpBackend b;
  b.name = "cpu";
  b.rmsnorm = &cpu::rmsnorm;
  b.silu_mul_rows = &cpu::silu_mul_rows;
  b.sigmoid = &cpu::sigmoid;
  b.softmax = &cpu::softmax;
  b.topk = &cpu::topk;
  b.apply_rope = &cpu::apply_rope;
  b.attention = &cpu_fast_attention;
  b.matmul = &cpu_fast_matmul;
  return b;
}

OpBackend make_cpu_reference() {
  OpBackend b;
  b.name = "cpu-reference";
  b.rmsnorm = &cpu::reference::rmsnorm;
  b.silu_mul_rows = &cpu::reference::silu_mul_rows;
  b.sigmoid = &cpu::reference::sigmoid;
  b.softmax = &cpu::reference::softmax;
  b.topk = &cpu::reference::topk;
  b.apply_rope = &cpu::reference::apply_rope;
  b.attention = &cpu::reference::attention;
  b.matmul = &cpu::matmul_reference;
  return b;
}

}  // namespace

const OpBackend& cpu_fast_backend() {
  static const OpBackend backend = make_cpu_fast();
  return backend;
}

const OpBackend& cpu_reference_backend() {
  static const OpBackend backend = make_cpu_reference();
  return backend;
}

double gamma_n(int64_t n) {
  const double nu = static_cast<double>(n) * kUnitRoundoff;
  return nu / (1.0 - nu);
}

float Rng::uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(engine_); }

float Rng::normal(float mean, float stddev) { return std::normal_distribution<float>(mean, stddev)(engine_); }

int64_t Rng::integer(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(engine_); }

int64_t Rng::ragged(int64_t max) {
  // Lane counts of f32 vectors: 4 (SSE4/NEON), 8 (AVX2), 16 (AVX-512); model widths next to them.
  static constexpr int64_t kShaped[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 192, 576};
  const int64_t pick = integer(0, 2);
  int64_t n = 1;
  if (pick == 0) {
    n = kShaped[integer(0, static_cast<int64_t>(std::size(kShaped)) - 1)];
  } else if (pick == 1) {
    n = 16 * integer(1, std::max<int64_t>(1, max / 16)) + integer(-1, 1);
  } else {
    n = integer(1, max);
  }
  return std::clamp<int64_t>(n, 1, max);
}

std::vector<float> Rng::normals(int64_t n, float stddev) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(0.0f, stddev);
  return v;
}

uint64_t op_test_seed() {
  if (const char* env = std::getenv("FP4_OP_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return 20260611;
}

std::string Comparison::summary() const {
  std::string s = fmt::format("n={} nmse={:.3e} (bound {:.3e}) max|err|={:.3e} worst err/bound={:.3f} violations={}",
                              count, nmse, nmse_bound, max_abs_error, max_error_ratio, violations);
  if (violations > 0) s += fmt::format(" first: [{}] {}", first_violation, first_violation_text);
  return s;
}

Comparison compare_outputs(const std::vector<float>& candidate, const std::vector<float>& reference,
                           const std::vector<double>& bound) {
  Comparison c;
  c.count = static_cast<int64_t>(reference.size());
  if (candidate.size() != reference.size() || bound.size() != reference.size()) {
    c.violations = 1;
    c.first_violation = 0;
    c.first_violation_text = fmt::format("size mismatch: candidate {} reference {} bound {}", candidate.size(),
                                         reference.size(), bound.size());
    return c;
  }
  double err_sq = 0, ref_sq = 0, bound_sq = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double r = reference[i];
    const double x = candidate[i];
    const bool nan_r = std::isnan(r), nan_x = std::isnan(x);
    double err = 0;
    bool bad = false;
    if (nan_r || nan_x) {
      bad = nan_r != nan_x;
    } else if (std::isinf(r) || std::isinf(x)) {
      bad = r != x;
    } else {
      err = std::fabs(x - r);
      bad = err > bound[i];
      err_sq += err * err;
      ref_sq += r * r;
      bound_sq += bound[i] * bound[i];
      c.max_abs_error = std::max(c.max_abs_error, err);
      const double ratio = err == 0 ? 0.0 : (bound[i] == 0 ? INFINITY : err / bound[i]);
      c.max_error_ratio = std::max(c.max_error_ratio, ratio);
    }
    if (bad) {
      if (c.violations == 0) {
        c.first_violation = static_cast<int64_t>(i);
        c.first_violation_text = fmt::format("candidate {:.9g} reference {:.9g} bound {:.3e}", x, r, bound[i]);
      }
      ++c.violations;
    }
  }
  c.error_sq = err_sq;
  c.bound_sq = bound_sq;
  c.nmse = ref_sq > 0 ? err_sq / ref_sq : (err_sq > 0 ? INFINITY : 0.0);
  c.nmse_bound = ref_sq > 0 ? bound_sq / ref_sq : 0.0;
  return c;
}

std::vector<CaseResult> run_cases(const std::vector<std::unique_ptr<OpCase>>& cases, const OpBackend& candidate,
                                  const OpBackend& reference) {
  std::vector<CaseResult> results;
  results.reserve(cases.size());
  for (const auto& op_case : cases) {
    const std::vector<float> want = op_case->run(reference);
    const std::vector<float> got = op_case->run(candidate);
    results.push_back({op_case->name(), compare_outputs(got, want, op_case->error_bound(want))});
  }
  return results;
}

std::vector<std::unique_ptr<OpCase>> make_all_op_cases(Rng& rng, int count) {
  std::vector<std::unique_ptr<OpCase>> all;
  for (auto make : {&make_rmsnorm_cases, &make_activation_cases, &make_softmax_cases, &make_topk_cases,
                    &make_rope_cases, &make_attention_cases, &make_matmul_cases}) {
    for (auto& c : make(rng, count)) all.push_back(std::move(c));
  }
  return all;
}

}  // namespace fp4::test
