// The scalar reference for y = x · Wᵀ and the one validation every matmul entry point runs.
// Written for obviousness: decode each weight element exactly with the codecs of formats.h and sum the
// products in double, so the result is the exact real value rounded once to f32 (products of an f32
// activation with a decoded FP8/BF16/F16/E2M1 weight are exact in double; only the sum rounds, and its
// error, about K · 2^-53 relative, is far below anything the fast path's f32 arithmetic can resolve).
#include <cmath>
#include <cstdint>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/ops/matmul.h"

namespace fp4::cpu {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// W[n, k] as an exact double.
double weight_at(const WeightView& w, int64_t n, int64_t k) {
  const int64_t K = w.cols;
  switch (w.encoding) {
    case WeightEncoding::kF32:
      return static_cast<const float*>(w.data)[n * K + k];
    case WeightEncoding::kBF16:
      return bf16_to_f32(static_cast<const uint16_t*>(w.data)[n * K + k]);
    case WeightEncoding::kF16:
      return f16_to_f32(static_cast<const uint16_t*>(w.data)[n * K + k]);
    case WeightEncoding::kFP8Block: {
      const int64_t scale_cols = ceil_div(K, w.block_cols);
      const double scale = w.block_scale_inv[(n / w.block_rows) * scale_cols + k / w.block_cols];
      return static_cast<double>(e4m3_to_f32(static_cast<const uint8_t*>(w.data)[n * K + k])) * scale;
    }
    case WeightEncoding::kNVFP4: {
      const uint8_t packed = static_cast<const uint8_t*>(w.data)[(n * K + k) / 2];
      const uint8_t code = (k % 2 == 0) ? e2m1_even_code(packed) : e2m1_odd_code(packed);
      const double block_scale = ue4m3_to_f32(w.block_scale[(n * K + k) / 16]);
      return static_cast<double>(e2m1_to_f32(code)) * block_scale * static_cast<double>(w.global_scale);
    }
  }
  return 0.0;
}

}  // namespace

void check_weight(const WeightView& w, const char* what) {
  const std::string_view name = encoding_name(w.encoding);
  FP4_CHECK(name != "?", "{}: weight encoding {} is not one this build knows", what,
            static_cast<int>(w.encoding));
  FP4_CHECK(w.rows > 0 && w.cols > 0, "{}: {} weight shape [{}, {}] must have positive rows (N) and cols (K)",
            what, name, w.rows, w.cols);
  FP4_CHECK(w.data != nullptr, "{}: {} weight [{}, {}] has no data (null pointer)", what, name, w.rows, w.cols);
  switch (w.encoding) {
    case WeightEncoding::kF32:
    case WeightEncoding::kBF16:
    case WeightEncoding::kF16:
      break;
    case WeightEncoding::kFP8Block:
      FP4_CHECK(w.block_rows > 0 && w.block_cols > 0,
                "{}: fp8-block weight [{}, {}] has block size {}x{}; both must be positive", what, w.rows,
                w.cols, w.block_rows, w.block_cols);
      FP4_CHECK(w.block_scale_inv != nullptr,
                "{}: fp8-block weight [{}, {}] has no block_scale_inv (weight_scale_inv) pointer", what, w.rows,
                w.cols);
      break;
    case WeightEncoding::kNVFP4:
      FP4_CHECK(w.cols % 16 == 0,
                "{}: nvfp4 weight [{}, {}]: cols (K) must be a multiple of the 16-element scale block", what,
                w.rows, w.cols);
      FP4_CHECK(w.block_scale != nullptr, "{}: nvfp4 weight [{}, {}] has no block_scale (weight_scale) pointer",
                what, w.rows, w.cols);
      FP4_CHECK(std::isfinite(w.global_scale), "{}: nvfp4 weight [{}, {}] has a non-finite global scale {}",
                what, w.rows, w.cols, w.global_scale);
      break;
  }
}

void matmul_reference(const WeightView& w, const float* x, int64_t M, float* y) {
  check_weight(w, "matmul_reference");
  FP4_CHECK(M >= 0, "matmul_reference: M = {} rows of x must not be negative", M);
  if (M == 0) return;
  FP4_CHECK(x != nullptr && y != nullptr, "matmul_reference: x or y is a null pointer (M = {})", M);
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      double sum = 0.0;
      for (int64_t k = 0; k < K; ++k) sum += static_cast<double>(x[m * K + k]) * weight_at(w, n, k);
      y[m * N + n] = static_cast<float>(sum);
    }
  }
}

}  // namespace fp4::cpu
