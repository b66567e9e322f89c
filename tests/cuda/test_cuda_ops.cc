// GPU op test: every CUDA op of src/fp4/backends/cuda against the CPU backend's scalar reference, on
// random shapes with ragged tails, each element within a bound derived from the kernel's arithmetic
// (docs/cuda.md derives each; the constants below restate them). Outputs are poisoned with NaN before
// every launch, so an element a kernel forgets to write fails.
//
// Exit status: 0 all passed, 1 a check failed, 77 no CUDA device (CTest reports the test as skipped).
// `--quick` runs fewer, smaller cases (for compute-sanitizer, which slows kernels a hundredfold); `--moe`
// runs only the mixture-of-experts groups.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "fp4/backends/cuda/cuda_ops.h"
#include "cuda_test_support.h"
#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/ops/activation.h"
#include "fp4/ops/matmul.h"
#include "fp4/ops/norm.h"
#include "fp4/ops/rope.h"
#include "fp4/ops/weight.h"

namespace {

using namespace fp4::cuda_test;  // NOLINT: the shared harness (cuda_test_support.h)
using fp4::WeightEncoding;
using fp4::WeightView;
using fp4::cuda::ActDtype;
using fp4::cuda::MatmulOptions;
using fp4::cuda::MatmulPath;

// A host weight with its device copy and the exact |W| table for the bounds.
struct TestWeight {
  WeightView host;    // pointers into the vectors below
  WeightView device;  // same view, device pointers
  std::vector<uint8_t> data;
  std::vector<uint8_t> nvfp4_scales;
  std::vector<float> fp8_scales;
  std::vector<double> abs_w;  // [N, K] |W[n, k]|
  DeviceArray<uint8_t>* d_data = nullptr;
  DeviceArray<uint8_t>* d_scales = nullptr;
  DeviceArray<float>* d_fp8_scales = nullptr;
  ~TestWeight() {
    delete d_data;
    delete d_scales;
    delete d_fp8_scales;
  }
};

// UE4M3 scale codes between 2^-6 and 2^6, and now and then zero (an all-zero block).
uint8_t random_ue4m3(Rng& rng) {
  if (rng.uniform_int(0, 31) == 0) return 0;
  return static_cast<uint8_t>(rng.uniform_int(0x08, 0x68));
}

void make_nvfp4(TestWeight& t, int N, int K, Rng& rng) {
  t.data.resize(static_cast<size_t>(N) * K / 2);
  t.nvfp4_scales.resize(static_cast<size_t>(N) * K / 16);
  for (auto& b : t.data) b = rng.byte();  // every E2M1 code, both signs
  for (auto& s : t.nvfp4_scales) s = random_ue4m3(rng);
  t.host = WeightView{};
  t.host.encoding = WeightEncoding::kNVFP4;
  t.host.rows = N;
  t.host.cols = K;
  t.host.data = t.data.data();
  t.host.block_scale = t.nvfp4_scales.data();
  t.host.global_scale = rng.uniform(0.5f, 2.0f) * 0x1p-6f;
  t.abs_w.resize(static_cast<size_t>(N) * K);
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) {
      const size_t i = static_cast<size_t>(n) * K + k;
      const uint8_t code = k % 2 == 0 ? fp4::e2m1_even_code(t.data[i / 2]) : fp4::e2m1_odd_code(t.data[i / 2]);
      t.abs_w[i] = std::fabs(static_cast<double>(fp4::e2m1_to_f32(code)) * fp4::ue4m3_to_f32(t.nvfp4_scales[i / 16]) *
                             t.host.global_scale);
    }
  }
  t.d_data = new DeviceArray<uint8_t>(t.data);
  t.d_scales = new DeviceArray<uint8_t>(t.nvfp4_scales);
  t.device = t.host;
  t.device.data = t.d_data->get();
  t.device.block_scale = t.d_scales->get();
}

void make_fp8(TestWeight& t, int N, int K, int block_rows, int block_cols, Rng& rng) {
  t.data.resize(static_cast<size_t>(N) * K);
  for (auto& b : t.data) {
    do b = rng.byte();
    while ((b & 0x7F) == 0x7F);  // E4M3 NaN codes are not valid weights
  }
  const int sr = (N + block_rows - 1) / block_rows;
  const int sc = (K + block_cols - 1) / block_cols;
  t.fp8_scales.resize(static_cast<size_t>(sr) * sc);
  for (auto& s : t.fp8_scales) s = rng.uniform(0.25f, 4.0f) * 0x1p-8f;
  t.host = WeightView{};
  t.host.encoding = WeightEncoding::kFP8Block;
  t.host.rows = N;
  t.host.cols = K;
  t.host.data = t.data.data();
  t.host.block_scale_inv = t.fp8_scales.data();
  t.host.block_rows = block_rows;
  t.host.block_cols = block_cols;
  t.abs_w.resize(static_cast<size_t>(N) * K);
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) {
      const size_t i = static_cast<size_t>(n) * K + k;
      t.abs_w[i] = std::fabs(static_cast<double>(fp4::e4m3_to_f32(t.data[i])) *
                             t.fp8_scales[static_cast<size_t>(n / block_rows) * sc + k / block_cols]);
    }
  }
  t.d_data = new DeviceArray<uint8_t>(t.data);
  t.d_fp8_scales = new DeviceArray<float>(t.fp8_scales);
  t.device = t.host;
  t.device.data = t.d_data->get();
  t.device.block_scale_inv = t.d_fp8_scales->get();
}

void make_bf16(TestWeight& t, int N, int K, Rng& rng) {
  t.data.resize(static_cast<size_t>(N) * K * 2);
  auto* bits = reinterpret_cast<uint16_t*>(t.data.data());
  t.abs_w.resize(static_cast<size_t>(N) * K);
  for (size_t i = 0; i < t.abs_w.size(); ++i) {
    bits[i] = fp4::f32_to_bf16(rng.uniform(-1.0f, 1.0f));
    t.abs_w[i] = std::fabs(static_cast<double>(fp4::bf16_to_f32(bits[i])));
  }
  t.host = WeightView{};
  t.host.encoding = WeightEncoding::kBF16;
  t.host.rows = N;
  t.host.cols = K;
  t.host.data = t.data.data();
  t.d_data = new DeviceArray<uint8_t>(t.data);
  t.device = t.host;
  t.device.data = t.d_data->get();
}

void make_f32(TestWeight& t, int N, int K, Rng& rng) {
  t.data.resize(static_cast<size_t>(N) * K * 4);
  auto* values = reinterpret_cast<float*>(t.data.data());
  t.abs_w.resize(static_cast<size_t>(N) * K);
  for (size_t i = 0; i < t.abs_w.size(); ++i) {
    values[i] = rng.uniform(-1.0f, 1.0f);
    t.abs_w[i] = std::fabs(static_cast<double>(values[i]));
  }
  t.host = WeightView{};
  t.host.encoding = WeightEncoding::kF32;
  t.host.rows = N;
  t.host.cols = K;
  t.host.data = t.data.data();
  t.d_data = new DeviceArray<uint8_t>(t.data);
  t.device = t.host;
  t.device.data = t.d_data->get();
}

// How a path's arithmetic bounds its error (docs/cuda.md, "Error bounds").
enum class BoundKind {
  kGemv,        // f32 FMAs: d = K/16 + 31 roundings per term, γ_d with u = 2^-24
  kTensorCore,  // exact BF16 products, tensor-core f32 accumulation counted at 2u per step (it may truncate):
                // d = K/16 + 16 + split + 2
  kCublas,      // cuBLAS BF16: K-long f32 accumulation in an order we do not know: d = K + 32 at 2u
  kCublasF32,   // cuBLAS f32 (pedantic compute: no TF32): one rounded product and K additions in any
                // order (split-K or tree), ≤ K + 1 roundings per term at u; d = K + 8 leaves slack
};

// One matmul case: random activations, the GPU path against cpu::matmul_reference.
void run_matmul_case(const std::string& name, const TestWeight& t, int M, ActDtype x_dtype, const MatmulOptions& options,
                     BoundKind kind, int split_for_bound, Rng& rng, Tally& tally) {
  const int N = static_cast<int>(t.host.rows);
  const int K = static_cast<int>(t.host.cols);
  std::vector<float> x(static_cast<size_t>(M) * K);
  std::vector<uint16_t> x_bf16(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = rng.uniform(-2.0f, 2.0f);
    if (x_dtype == ActDtype::kBF16) {
      x_bf16[i] = fp4::f32_to_bf16(x[i]);
      x[i] = fp4::bf16_to_f32(x_bf16[i]);  // the reference sees exactly the bf16 values
    }
  }
  std::vector<float> ref(static_cast<size_t>(M) * N);
  fp4::cpu::matmul_reference(t.host, x.data(), M, ref.data());

  DeviceArray<float> d_x(x);
  DeviceArray<uint16_t> d_xb(x_bf16);
  DeviceArray<float> d_y(ref.size());
  d_y.poison();
  const void* xin = x_dtype == ActDtype::kF32 ? static_cast<const void*>(d_x.get()) : d_xb.get();
  fp4::cuda::matmul(t.device, xin, x_dtype, M, d_y.get(), nullptr, options);
  const std::vector<float> got = d_y.download();

  const bool rounds_x = x_dtype == ActDtype::kF32 && kind != BoundKind::kGemv;
  double rel = 0.0;
  switch (kind) {
    case BoundKind::kGemv: rel = gamma_d(K / 16.0 + 31.0, kU); break;
    case BoundKind::kTensorCore: rel = gamma_d(K / 16.0 + 16.0 + split_for_bound + 2.0, 2 * kU); break;
    case BoundKind::kCublas: rel = gamma_d(K + 32.0, 2 * kU); break;
    case BoundKind::kCublasF32: rel = gamma_d(K + 8.0, kU); break;
  }
  if (rounds_x) rel += kBf16U * (1.0 + rel);
  std::vector<double> bound(ref.size());
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double s = 0.0;
      for (int k = 0; k < K; ++k) s += std::fabs(static_cast<double>(x[static_cast<size_t>(m) * K + k])) *
                                       t.abs_w[static_cast<size_t>(n) * K + k];
      const size_t o = static_cast<size_t>(m) * N + n;
      bound[o] = rel * s + kU * std::fabs(ref[o]) + kFloor;
    }
  }
  compare(name, got, ref, bound, tally);
}

std::string shape_name(const char* what, int M, int N, int K, ActDtype x_dtype, const char* extra = "") {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s M=%d N=%d K=%d x=%s%s", what, M, N, K, x_dtype == ActDtype::kF32 ? "f32" : "bf16",
                extra);
  return buf;
}


int test_matmuls(bool quick, Rng& rng) {
  int failures = 0;
  const int trials = quick ? 4 : 24;
  {
    Tally tally;
    MatmulOptions gemv;
    gemv.path = MatmulPath::kNvfp4Gemv;
    for (int i = 0; i < trials; ++i) {
      const int M = rng.uniform_int(1, 8);
      const int N = rng.uniform_int(1, quick ? 80 : 300);
      const int K = 16 * rng.uniform_int(1, quick ? 40 : 300);  // K % 32 == 16 exercises the 8-byte loads
      const ActDtype dt = i % 2 ? ActDtype::kBF16 : ActDtype::kF32;
      TestWeight t;
      make_nvfp4(t, N, K, rng);
      run_matmul_case(shape_name("nvfp4-gemv", M, N, K, dt), t, M, dt, gemv, BoundKind::kGemv, 1, rng, tally);
    }
    for (int tpr : {32, 64, 128, 256}) {  // every launch width the decode GEMV offers, activation-resident (M ≤ 2)
      MatmulOptions forced = gemv;           // and tiled (M = 5; 256 is beyond its shared-memory budget there)
      forced.gemv_threads_per_row = tpr;
      for (int M : {1, 2, 5}) {
        if (M == 5 && tpr > 64) continue;
        const int N = rng.uniform_int(1, 200);
        const int K = 32 * rng.uniform_int(1, quick ? 20 : 120);
        TestWeight t;
        make_nvfp4(t, N, K, rng);
        run_matmul_case(shape_name("nvfp4-gemv", M, N, K, ActDtype::kBF16, (" tpr=" + std::to_string(tpr)).c_str()), t,
                        M, ActDtype::kBF16, forced, BoundKind::kGemv, 1, rng, tally);
      }
    }
    if (!quick) {  // a real expert shape: the small-N launch configuration
      TestWeight t;
      make_nvfp4(t, 2048, 7168, rng);
      run_matmul_case(shape_name("nvfp4-gemv", 1, 2048, 7168, ActDtype::kBF16), t, 1, ActDtype::kBF16, gemv,
                      BoundKind::kGemv, 1, rng, tally);
      run_matmul_case(shape_name("nvfp4-gemv", 8, 2048, 7168, ActDtype::kF32), t, 8, ActDtype::kF32, gemv,
                      BoundKind::kGemv, 1, rng, tally);
    }
    report("nvfp4 GEMV (M<=8)", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    const int ms[] = {9, 16, 17, 40, 64, 65, 130, 200};
    for (int i = 0; i < trials; ++i) {
      const int M = ms[i % 8];
      const int N = rng.uniform_int(1, quick ? 150 : 300);
      const int K = 64 * rng.uniform_int(1, quick ? 8 : 40);
      const ActDtype dt = (i / 2) % 2 ? ActDtype::kBF16 : ActDtype::kF32;
      MatmulOptions mma;
      mma.path = MatmulPath::kNvfp4Mma;
      mma.split_k = i % 3 == 0 ? 0 : (i % 3 == 1 ? 1 : 3);
      const int split_bound = mma.split_k == 0 ? 32 : mma.split_k;
      TestWeight t;
      make_nvfp4(t, N, K, rng);
      run_matmul_case(shape_name("nvfp4-mma", M, N, K, dt, mma.split_k == 0 ? " split=auto" : " split=forced"), t, M,
                      dt, mma, BoundKind::kTensorCore, split_bound, rng, tally);
    }
    report("nvfp4 tensor-core matmul", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    MatmulOptions gemv;
    gemv.path = MatmulPath::kFp8Gemv;
    for (int i = 0; i < trials; ++i) {
      const int M = rng.uniform_int(1, 8);
      const int N = rng.uniform_int(1, quick ? 80 : 300);
      const int K = 16 * rng.uniform_int(1, quick ? 40 : 200);
      const bool odd_blocks = i % 4 == 3;  // block sizes other than DeepSeek's 128 × 128
      const ActDtype dt = i % 2 ? ActDtype::kBF16 : ActDtype::kF32;
      TestWeight t;
      make_fp8(t, N, K, odd_blocks ? 48 : 128, odd_blocks ? 32 : 128, rng);
      run_matmul_case(shape_name("fp8-gemv", M, N, K, dt), t, M, dt, gemv, BoundKind::kGemv, 1, rng, tally);
    }
    report("fp8-block GEMV (M<=8)", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    const int ms[] = {9, 16, 33, 64, 100, 150};
    for (int i = 0; i < trials; ++i) {
      const int M = ms[i % 6];
      const int N = rng.uniform_int(1, quick ? 150 : 300);
      const int K = 16 * rng.uniform_int(1, quick ? 32 : 160);  // K % 64 != 0: a partial last k-tile
      const ActDtype dt = (i / 2) % 2 ? ActDtype::kBF16 : ActDtype::kF32;
      MatmulOptions mma;
      mma.path = MatmulPath::kFp8Mma;
      mma.split_k = i % 3 == 2 ? 2 : 0;
      TestWeight t;
      make_fp8(t, N, K, 128, 128, rng);
      run_matmul_case(shape_name("fp8-mma", M, N, K, dt), t, M, dt, mma, BoundKind::kTensorCore,
                      mma.split_k == 0 ? 32 : mma.split_k, rng, tally);
    }
    report("fp8-block tensor-core matmul", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    for (int i = 0; i < (quick ? 2 : 8); ++i) {
      const int M = rng.uniform_int(1, 200);
      const int N = rng.uniform_int(1, 300);
      const int K = rng.uniform_int(1, 1000);
      const ActDtype dt = i % 2 ? ActDtype::kBF16 : ActDtype::kF32;
      TestWeight t;
      make_bf16(t, N, K, rng);
      run_matmul_case(shape_name("cublas-bf16", M, N, K, dt), t, M, dt, MatmulOptions{}, BoundKind::kCublas, 1, rng,
                      tally);
    }
    report("bf16 matmul (cuBLAS)", tally);
    failures += tally.failed;
  }
  {
    // F32 weights (routers, MLA's absorbed kv_b copies) through matmul()'s automatic path: odd N and K,
    // M from decode to prefill sizes, and per-head views that start at an element offset (only 4-byte
    // aligned) inside one allocation, as the absorbed copies do.
    Tally tally;
    for (int i = 0; i < (quick ? 3 : 10); ++i) {
      const int M = i % 3 == 0 ? 1 : rng.uniform_int(1, 300);
      const int N = rng.uniform_int(1, 300);
      const int K = rng.uniform_int(1, 700);
      TestWeight t;
      make_f32(t, N, K, rng);
      if (fp4::cuda::auto_path(t.device, M) != MatmulPath::kCublasF32) {
        std::printf("  FAIL auto_path does not pick cublas-f32 for an f32 weight\n");
        ++tally.failed;
      }
      run_matmul_case(shape_name("cublas-f32", M, N, K, ActDtype::kF32), t, M, ActDtype::kF32, MatmulOptions{},
                      BoundKind::kCublasF32, 1, rng, tally);
    }
    {
      // Head h's [L, P] view of a [heads, L, P] table, with L·P odd so every other head is misaligned.
      const int heads = 3, L = 37, P = 23, M = 5;
      TestWeight all;
      make_f32(all, heads * L, P, rng);
      for (int h = 0; h < heads; ++h) {
        TestWeight t;  // host copy of the head's slice for the reference; the device view points into `all`
        t.host = all.host;
        t.host.rows = L;
        t.host.data = all.data.data() + static_cast<size_t>(h) * L * P * 4;
        t.abs_w.assign(all.abs_w.begin() + static_cast<size_t>(h) * L * P,
                       all.abs_w.begin() + static_cast<size_t>(h + 1) * L * P);
        t.device = t.host;
        t.device.data = all.d_data->get() + static_cast<size_t>(h) * L * P * 4;
        run_matmul_case(shape_name("cublas-f32 head view", M, L, P, ActDtype::kF32), t, M, ActDtype::kF32,
                        MatmulOptions{}, BoundKind::kCublasF32, 1, rng, tally);
      }
    }
    report("f32 matmul (cuBLAS)", tally);
    failures += tally.failed;
  }
  {
    // BF16 at the shapes a model has that are not multiples of 16 (odd N and K, M = 1 and prefill sizes)
    // and a view that is only 2-byte aligned.
    Tally tally;
    const int shapes[][3] = {{1, 7, 5}, {3, 129, 257}, {64, 100, 1}, {300, 33, 65}, {17, 576, 129}};
    for (const auto& shape : shapes) {
      TestWeight t;
      make_bf16(t, shape[1], shape[2], rng);
      run_matmul_case(shape_name("cublas-bf16 odd", shape[0], shape[1], shape[2], ActDtype::kF32), t, shape[0],
                      ActDtype::kF32, MatmulOptions{}, BoundKind::kCublas, 1, rng, tally);
    }
    {
      TestWeight all;
      make_bf16(all, 2 * 9, 13, rng);  // two [9, 13] heads; the second starts 234 bytes in
      TestWeight t;
      t.host = all.host;
      t.host.rows = 9;
      t.host.data = all.data.data() + 9 * 13 * 2;
      t.abs_w.assign(all.abs_w.begin() + 9 * 13, all.abs_w.end());
      t.device = t.host;
      t.device.data = all.d_data->get() + 9 * 13 * 2;
      run_matmul_case(shape_name("cublas-bf16 head view", 4, 9, 13, ActDtype::kBF16), t, 4, ActDtype::kBF16,
                      MatmulOptions{}, BoundKind::kCublas, 1, rng, tally);
    }
    report("bf16 matmul odd shapes", tally);
    failures += tally.failed;
  }
  {
    // matmul() picks the path: decode and prefill sizes through the same entry point.
    Tally tally;
    const int ms[] = {1, 8, 9, 64};
    for (int M : ms) {
      TestWeight t;
      make_nvfp4(t, 96, 512, rng);
      const bool mma = fp4::cuda::auto_path(t.device, M) == MatmulPath::kNvfp4Mma;
      run_matmul_case(shape_name("nvfp4-auto", M, 96, 512, ActDtype::kBF16), t, M, ActDtype::kBF16, MatmulOptions{},
                      mma ? BoundKind::kTensorCore : BoundKind::kGemv, 32, rng, tally);
    }
    report("nvfp4 auto path", tally);
    failures += tally.failed;
  }
  return failures;
}

int test_pointwise(bool quick, Rng& rng) {
  int failures = 0;
  {
    Tally tally;
    for (int i = 0; i < (quick ? 3 : 12); ++i) {
      const int rows = rng.uniform_int(1, 40);
      const int dim = rng.uniform_int(1, quick ? 600 : 8000);
      const int stride = dim + (i % 2) * rng.uniform_int(1, 64);
      std::vector<float> x(static_cast<size_t>(rows) * stride), norm_weight(dim), ref(x.size(), 0.f);
      for (auto& v : x) v = rng.uniform(-3.0f, 3.0f);
      for (auto& v : norm_weight) v = rng.uniform(-2.0f, 2.0f);
      fp4::cpu::reference::rmsnorm(x.data(), stride, norm_weight.data(), 1e-6f, rows, dim, ref.data(), stride);
      DeviceArray<float> d_x(x), d_g(norm_weight), d_y(x.size());
      d_y.poison();
      fp4::cuda::rmsnorm(d_x.get(), stride, d_g.get(), 1e-6f, rows, dim, d_y.get(), stride, nullptr);
      std::vector<float> got = d_y.download();
      // Sum of squares: d_s = ceil(dim/256) + 10 roundings of positive terms (relative γ_{d_s}); mean, +eps,
      // sqrt (halves the relative error), 1/· and the two output products add ≤ 6u; the reference's own
      // final rounding adds u: |err| ≤ (γ_{d_s}/2 + 8u)·|ref|.
      const double ds = std::ceil(dim / 256.0) + 10.0;
      std::vector<double> bound(ref.size(), 0.0);
      for (int r = 0; r < rows; ++r) {
        for (int j = stride * r + dim; j < stride * (r + 1); ++j) got[j] = ref[j] = 0.f;  // gaps are not outputs
        for (int j = 0; j < dim; ++j) {
          const size_t o = static_cast<size_t>(r) * stride + j;
          bound[o] = (gamma_d(ds, kU) / 2 + 8 * kU) * std::fabs(ref[o]) + kFloor;
        }
      }
      compare("rmsnorm rows=" + std::to_string(rows) + " dim=" + std::to_string(dim), got, ref, bound, tally);
    }
    report("rmsnorm", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    for (int i = 0; i < (quick ? 3 : 10); ++i) {
      const int rows = rng.uniform_int(1, 30);
      const int n = rng.uniform_int(1, quick ? 500 : 5000);
      // gate and up interleaved in one [rows, 2n] buffer, as a fused gate_up projection writes them.
      std::vector<float> buf(static_cast<size_t>(rows) * 2 * n), ref(static_cast<size_t>(rows) * n);
      for (auto& v : buf) v = rng.uniform(-20.0f, 20.0f);
      fp4::cpu::reference::silu_mul_rows(buf.data(), 2 * n, buf.data() + n, 2 * n, rows, n, ref.data(), n);
      DeviceArray<float> d_buf(buf), d_out(ref.size());
      d_out.poison();
      fp4::cuda::silu_mul_rows(d_buf.get(), 2 * n, d_buf.get() + n, 2 * n, rows, n, d_out.get(), n, nullptr);
      const std::vector<float> got = d_out.download();
      // expf ≤ 2 ulp (4u), 1 + e, the division and the product one rounding each: ≤ 7u, taken as 8u; when
      // exp(−g) overflows (g < −88) the result is a zero against a reference below |g·up|·2^-126.
      std::vector<double> bound(ref.size());
      for (int r = 0; r < rows; ++r) {
        for (int j = 0; j < n; ++j) {
          const double g = buf[static_cast<size_t>(r) * 2 * n + j];
          const double up = buf[static_cast<size_t>(r) * 2 * n + n + j];
          const size_t o = static_cast<size_t>(r) * n + j;
          bound[o] = 8 * kU * std::fabs(ref[o]) + std::fabs(g * up) * 0x1p-126 + kFloor;
        }
      }
      compare("silu_mul rows=" + std::to_string(rows) + " n=" + std::to_string(n), got, ref, bound, tally);
    }
    report("silu_mul_rows", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    const fp4::cpu::RopeLayout layouts[] = {fp4::cpu::RopeLayout::kHalf, fp4::cpu::RopeLayout::kInterleaved,
                                            fp4::cpu::RopeLayout::kInterleavedPairs};
    for (int i = 0; i < (quick ? 3 : 9); ++i) {
      const auto layout = layouts[i % 3];
      const int tokens = rng.uniform_int(1, 20);
      const int heads = rng.uniform_int(1, 8);
      const int rotary_dim = 2 * rng.uniform_int(1, 160);
      const int rot_offset = rng.uniform_int(0, 1) * 64;
      const int head_stride = rot_offset + rotary_dim + rng.uniform_int(0, 8);
      const int token_stride = heads * head_stride + rng.uniform_int(0, 8);
      std::vector<float> x(static_cast<size_t>(tokens) * token_stride);
      std::vector<float> cos(static_cast<size_t>(tokens) * rotary_dim / 2), sin(cos.size());
      for (auto& v : x) v = rng.uniform(-4.0f, 4.0f);
      for (size_t j = 0; j < cos.size(); ++j) {
        const float angle = rng.uniform(-3.2f, 3.2f);
        cos[j] = std::cos(angle);
        sin[j] = std::sin(angle);
      }
      std::vector<float> ref = x;
      fp4::cpu::reference::apply_rope(ref.data(), tokens, heads, token_stride, head_stride, rot_offset, rotary_dim,
                                      cos.data(), sin.data(), layout);
      DeviceArray<float> d_x(x), d_cos(cos), d_sin(sin);
      fp4::cuda::apply_rope(d_x.get(), tokens, heads, token_stride, head_stride, rot_offset, rotary_dim, d_cos.get(),
                            d_sin.get(), layout, nullptr);
      const std::vector<float> got = d_x.download();
      // The same f32 operations in the same order, no contraction: bit-identical (bound 0).
      const std::vector<double> bound(ref.size(), 0.0);
      compare("rope layout=" + std::to_string(i % 3) + " dim=" + std::to_string(rotary_dim), got, ref, bound, tally);
    }
    report("rope (bit-exact)", tally);
    failures += tally.failed;
  }
  return failures;
}

int test_errors() {
  // Bad input must be a one-line fp4::Error, not a crash or a launch.
  int failures = 0;
  auto expect_error = [&](const char* what, auto&& fn) {
    try {
      fn();
      std::printf("  FAIL %s: no error\n", what);
      ++failures;
    } catch (const fp4::Error& e) {
      std::printf("  ok   %s -> %s\n", what, e.what());
    }
  };
  WeightView w;
  w.encoding = WeightEncoding::kNVFP4;
  w.rows = 4;
  w.cols = 24;
  uint8_t dummy[64] = {};
  w.data = dummy;
  w.block_scale = dummy;
  float y[4];
  float x[24];
  expect_error("nvfp4 K not a multiple of 16",
               [&] { fp4::cuda::matmul(w, x, ActDtype::kF32, 1, y, nullptr); });
  w.cols = 32;
  w.block_scale = nullptr;
  expect_error("nvfp4 without scales", [&] { fp4::cuda::matmul(w, x, ActDtype::kF32, 1, y, nullptr); });
  w.encoding = WeightEncoding::kF16;
  expect_error("f16 weight", [&] { fp4::cuda::matmul(w, x, ActDtype::kF32, 1, y, nullptr); });
  w.encoding = WeightEncoding::kF32;
  expect_error("f32 weight with bf16 x", [&] { fp4::cuda::matmul(w, x, ActDtype::kBF16, 1, y, nullptr); });
  w.encoding = WeightEncoding::kNVFP4;
  w.block_scale = dummy;
  MatmulOptions odd_width;
  odd_width.gemv_threads_per_row = 48;
  expect_error("gemv_threads_per_row 48", [&] { fp4::cuda::matmul(w, x, ActDtype::kF32, 1, y, nullptr, odd_width); });
  expect_error("odd rotary_dim", [&] {
    fp4::cuda::apply_rope(x, 1, 1, 8, 8, 0, 7, x, x, fp4::cpu::RopeLayout::kHalf, nullptr);
  });
  std::printf("%-28s %4d cases  %s\n", "argument errors", 6, failures ? "FAIL" : "ok  ");
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  // --quick: fewer, smaller cases; --moe: only the MoE op groups (sanitizer runs of new kernels).
  bool quick = false;
  bool moe_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--moe") == 0) moe_only = true;
  }
  if (fp4::cuda::device_count() == 0) {
    std::printf("SKIPPED: no CUDA device is visible, so the CUDA backend's GPU tests cannot run here\n");
    return 77;
  }
  const char* seed_env = std::getenv("FP4_TEST_SEED");
  const uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 10) : 20261129;
  std::printf("CUDA op tests (seed %llu%s%s)\n", static_cast<unsigned long long>(seed), quick ? ", quick" : "",
              moe_only ? ", MoE only" : "");
  Rng rng(seed);
  int failures = 0;
  try {
    if (!moe_only) {
      failures += test_matmuls(quick, rng);
      failures += test_pointwise(quick, rng);
      failures += test_errors();
      failures += test_model_ops(quick, rng);
    }
    failures += test_moe_ops(quick, rng);
  } catch (const std::exception& e) {
    std::printf("FAIL: unexpected error: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", failures ? "FAILED" : "ALL PASSED");
  return failures ? 1 : 0;
}
