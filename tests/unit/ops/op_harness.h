// Op test harness, modelled on ggml's test-backend-ops: a table of op cases with random shapes (ragged
// SIMD tails included), each run through two backends and compared element by element against a bound
// derived from the arithmetic of the op, plus NMSE (Σ(a−b)² / Σb², as ggml) against the bound's NMSE.
//
// A backend is a table of function pointers with the CPU op signatures (host pointers, f32, row-major).
// Today the table has two rows: the CPU fast path and the CPU scalar reference. A device backend plugs in
// by filling the same table with functions that copy inputs to the device, run its kernel and copy back;
// every case below then runs against it unchanged.
//
// Adding an op: add its entry to OpBackend and to both CPU tables in op_harness.cc, write an OpCase
// (inputs made in the constructor from the Rng, run() calls the backend, error_bound() derives the bound
// with the derivation written beside it), and register random instances in the op's make_*_cases().
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/ops/activation.h"
#include "fp4/ops/attention.h"
#include "fp4/ops/matmul.h"
#include "fp4/ops/norm.h"
#include "fp4/ops/rope.h"
#include "fp4/ops/softmax.h"
#include "fp4/ops/topk.h"

namespace fp4::test {

struct OpBackend {
  const char* name = "";
  void (*rmsnorm)(const float* x, int64_t x_stride, const float* gamma, float eps, int64_t rows, int64_t dim,
                  float* out, int64_t out_stride) = nullptr;
  void (*silu_mul_rows)(const float* gate, int64_t gate_stride, const float* up, int64_t up_stride, int64_t rows,
                        int64_t n, float* out, int64_t out_stride) = nullptr;
  void (*sigmoid)(const float* x, int64_t n, float* out) = nullptr;
  void (*softmax)(const float* x, int64_t rows, int64_t n, float* out) = nullptr;
  void (*topk)(const float* x, int64_t n, int64_t k, int32_t* indices, float* values) = nullptr;
  void (*apply_rope)(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride,
                     int64_t rot_offset, int64_t rotary_dim, const float* cos, const float* sin,
                     cpu::RopeLayout layout) = nullptr;
  void (*attention)(const cpu::AttentionParams& params, const float* q, const cpu::KvView& kv,
                    float* out) = nullptr;
  void (*matmul)(const WeightView& w, const float* x, int64_t M, float* y) = nullptr;
};

// The CPU fast paths (Highway, runtime dispatch) and the CPU scalar references.
const OpBackend& cpu_fast_backend();
const OpBackend& cpu_reference_backend();

// f32 unit roundoff u = 2^-24 and Higham's γ_n = n·u / (1 − n·u): the relative error bound of any
// summation order of n terms (or an n-term dot product) in f32.
inline constexpr double kUnitRoundoff = 0x1p-24;
double gamma_n(int64_t n);

// Seeded random source; FP4_OP_SEED in the environment replaces the default seed so a failure seen in CI
// can be replayed and other seeds explored. Every case name carries the shapes it drew.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  float uniform(float lo, float hi);
  float normal(float mean, float stddev);
  int64_t integer(int64_t lo, int64_t hi);  // inclusive
  // A length that exercises SIMD bodies and tails: a near-multiple of 4/8/16 lanes (±1), a model-shaped
  // size, or a uniform draw in [1, max].
  int64_t ragged(int64_t max);
  std::vector<float> normals(int64_t n, float stddev);
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};
uint64_t op_test_seed();

class OpCase {
 public:
  virtual ~OpCase() = default;
  virtual std::string name() const = 0;
  // Runs the op on the backend with this case's inputs and returns every output value (indices of
  // top-k are returned as floats, exact below 2^24).
  virtual std::vector<float> run(const OpBackend& backend) const = 0;
  // For each output element, the largest |candidate − reference| the arithmetic allows, given the
  // reference backend's output. 0 means the two must agree exactly.
  virtual std::vector<double> error_bound(const std::vector<float>& reference) const = 0;
};

struct Comparison {
  int64_t count = 0;
  double nmse = 0;              // Σ(c − r)² / Σ r²   (0 when both are all zero)
  double nmse_bound = 0;        // Σ bound² / Σ r²
  double max_abs_error = 0;     // max |c − r|
  double max_error_ratio = 0;   // max |c − r| / bound (with 0/0 = 0, x/0 = ∞)
  int64_t violations = 0;       // elements with |c − r| > bound, or a NaN in one output only
  int64_t first_violation = -1;
  std::string first_violation_text;
  double error_sq = 0;          // Σ(c − r)²  (the NMSE test compares these sums, so an all-zero
  double bound_sq = 0;          // Σ bound²    reference row does not divide by zero)
  bool ok() const { return violations == 0 && error_sq <= bound_sq; }
  std::string summary() const;
};

Comparison compare_outputs(const std::vector<float>& candidate, const std::vector<float>& reference,
                           const std::vector<double>& bound);

struct CaseResult {
  std::string case_name;
  Comparison comparison;
};

// Runs each case on both backends and compares candidate against reference.
std::vector<CaseResult> run_cases(const std::vector<std::unique_ptr<OpCase>>& cases, const OpBackend& candidate,
                                  const OpBackend& reference);

// Case factories, one per op family (op_cases_*.cc). `count` random instances each, drawn from rng.
std::vector<std::unique_ptr<OpCase>> make_rmsnorm_cases(Rng& rng, int count);
std::vector<std::unique_ptr<OpCase>> make_activation_cases(Rng& rng, int count);
std::vector<std::unique_ptr<OpCase>> make_softmax_cases(Rng& rng, int count);
std::vector<std::unique_ptr<OpCase>> make_topk_cases(Rng& rng, int count);
std::vector<std::unique_ptr<OpCase>> make_rope_cases(Rng& rng, int count);
std::vector<std::unique_ptr<OpCase>> make_attention_cases(Rng& rng, int count);
std::vector<std::unique_ptr<OpCase>> make_matmul_cases(Rng& rng, int count);

// Every family above, `count` instances each.
std::vector<std::unique_ptr<OpCase>> make_all_op_cases(Rng& rng, int count);

}  // namespace fp4::test
