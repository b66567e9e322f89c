// Host entry point of the CUDA linear layers: validates the call, picks the kernel for the encoding
// and M, allocates temporaries on the stream and launches (kernels.h). cuBLAS serves BF16 and F32 weights.
#include <cublas_v2.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/device_context.h"
#include "fp4/backends/cuda/kernels.h"
#include "fp4/base/error.h"

namespace fp4::cuda {
namespace {

constexpr int64_t kGemvMaxM = 8;

bool aligned(const void* p, uintptr_t alignment) { return reinterpret_cast<uintptr_t>(p) % alignment == 0; }

// One cuBLAS handle per thread and device, created on first use.
class CublasHandles {
 public:
  ~CublasHandles() {
    for (cublasHandle_t h : handles_) {
      if (h != nullptr) cublasDestroy(h);
    }
  }
  cublasHandle_t get(int device) {
    if (handles_[device] == nullptr) {
      const cublasStatus_t status = cublasCreate(&handles_[device]);
      FP4_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLAS: cublasCreate failed on device {}: {}", device,
                cublasGetStatusString(status));
    }
    return handles_[device];
  }

 private:
  std::array<cublasHandle_t, kMaxDevices> handles_{};
};

void check_dims(const WeightView& w, int64_t M) {
  const std::string_view name = encoding_name(w.encoding);
  FP4_CHECK(w.rows > 0 && w.cols > 0, "cuda matmul: {} weight shape [{}, {}] must have positive rows (N) and cols (K)",
            name, w.rows, w.cols);
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  FP4_CHECK(w.rows <= kMax && w.cols <= kMax && M <= kMax,
            "cuda matmul: {} weight [{}, {}] with M = {}: every dimension must fit in int32", name, w.rows, w.cols, M);
  FP4_CHECK(w.data != nullptr, "cuda matmul: {} weight [{}, {}] has no data (null pointer)", name, w.rows, w.cols);
}

bool nvfp4_mma_ok(const WeightView& w) {
  return w.cols % 64 == 0 && aligned(w.data, 16) && aligned(w.block_scale, 4);
}
bool fp8_mma_ok(const WeightView& w) { return w.block_rows % 128 == 0 && w.block_cols % 64 == 0; }

void check_x_alignment(const void* x, ActDtype x_dtype) {
  FP4_CHECK(aligned(x, x_dtype == ActDtype::kF32 ? 16 : 8),
            "cuda matmul: activations x must be {}-byte aligned (rows are read in 4-element vectors)",
            x_dtype == ActDtype::kF32 ? 16 : 8);
}

void run_nvfp4_gemv(const WeightView& w, const void* x, ActDtype x_dtype, int64_t M, float* y, cudaStream_t stream,
                    int tpr_request) {
  const int N = static_cast<int>(w.rows);
  const int K = static_cast<int>(w.cols);
  const bool wide = K % 32 == 0 && aligned(w.data, 16) && aligned(w.block_scale, 2);
  FP4_CHECK(wide || aligned(w.data, 8), "cuda matmul: nvfp4 weight [{}, {}] data must be at least 8-byte aligned", N,
            K);
  check_x_alignment(x, x_dtype);
  const size_t x_elem = x_dtype == ActDtype::kF32 ? 4 : 2;
  for (int64_t m0 = 0; m0 < M; m0 += kGemvMaxM) {  // M > 8 only when the tensor-core path cannot take the shape
    const int rows = static_cast<int>(std::min(kGemvMaxM, M - m0));
    const void* xm = static_cast<const uint8_t*>(x) + static_cast<size_t>(m0) * K * x_elem;
    check_cuda(detail::launch_nvfp4_gemv(static_cast<const uint8_t*>(w.data), w.block_scale, xm,
                                         x_dtype == ActDtype::kBF16, rows, N, K, w.global_scale, wide, y + m0 * N,
                                         sm_count(), tpr_request, stream),
               "nvfp4 GEMV launch");
  }
}

void run_fp8_gemv(const WeightView& w, const void* x, ActDtype x_dtype, int64_t M, float* y, cudaStream_t stream) {
  const int N = static_cast<int>(w.rows);
  const int K = static_cast<int>(w.cols);
  check_x_alignment(x, x_dtype);
  const size_t x_elem = x_dtype == ActDtype::kF32 ? 4 : 2;
  for (int64_t m0 = 0; m0 < M; m0 += kGemvMaxM) {
    const int rows = static_cast<int>(std::min(kGemvMaxM, M - m0));
    const void* xm = static_cast<const uint8_t*>(x) + static_cast<size_t>(m0) * K * x_elem;
    check_cuda(detail::launch_fp8_gemv(static_cast<const uint8_t*>(w.data), w.block_scale_inv, w.block_rows,
                                       w.block_cols, xm, x_dtype == ActDtype::kBF16, rows, N, K, y + m0 * N,
                                       sm_count(), stream),
               "fp8 GEMV launch");
  }
}

// BF16 activations for a tensor-core path: x itself, or a rounded copy of f32 x.
const void* bf16_activations(const void* x, ActDtype x_dtype, int64_t count, StreamBuffer& copy,
                             cudaStream_t stream) {
  if (x_dtype == ActDtype::kBF16) {
    FP4_CHECK(aligned(x, 16), "cuda matmul: bf16 activations x must be 16-byte aligned for the tensor-core path");
    return x;
  }
  check_cuda(detail::launch_f32_to_bf16(static_cast<const float*>(x), copy.as<uint16_t>(), count, stream),
             "f32 → bf16 activation conversion");
  return copy.as<void>();
}

void run_mma(const WeightView& w, const void* x, ActDtype x_dtype, int64_t M, float* y, cudaStream_t stream,
             int split_request) {
  const int N = static_cast<int>(w.rows);
  const int K = static_cast<int>(w.cols);
  const bool fp8 = w.encoding == WeightEncoding::kFP8Block;
  const detail::MmaPlan plan = fp8 ? detail::plan_fp8_mma(static_cast<int>(M), N, K, sm_count(), split_request)
                                   : detail::plan_nvfp4_mma(static_cast<int>(M), N, K, sm_count(), split_request);
  StreamBuffer x_copy(x_dtype == ActDtype::kF32 ? static_cast<size_t>(M) * K * 2 : 0, stream,
                      "cudaMallocAsync(bf16 activations)");
  const void* xb = bf16_activations(x, x_dtype, M * K, x_copy, stream);
  StreamBuffer partial(plan.partial_bytes, stream, "cudaMallocAsync(split-K partial sums)");
  if (fp8) {
    check_cuda(detail::launch_fp8_mma(plan, static_cast<const uint8_t*>(w.data), w.block_scale_inv, w.block_rows,
                                      w.block_cols, xb, static_cast<int>(M), N, K, y, partial.as<float>(), stream),
               "fp8 tensor-core matmul launch");
  } else {
    check_cuda(detail::launch_nvfp4_mma(plan, static_cast<const uint8_t*>(w.data), w.block_scale, xb,
                                        static_cast<int>(M), N, K, w.global_scale, y, partial.as<float>(), stream),
               "nvfp4 tensor-core matmul launch");
  }
}

// The calling thread's cuBLAS handle for the current device, bound to `stream`.
cublasHandle_t cublas_on(cudaStream_t stream) {
  thread_local CublasHandles handles;
  cublasHandle_t handle = handles.get(current_device());
  const cublasStatus_t status = cublasSetStream(handle, stream);
  FP4_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLAS: cublasSetStream failed: {}", cublasGetStatusString(status));
  return handle;
}

void run_cublas_bf16(const WeightView& w, const void* x, ActDtype x_dtype, int64_t M, float* y, cudaStream_t stream) {
  const int N = static_cast<int>(w.rows);
  const int K = static_cast<int>(w.cols);
  StreamBuffer x_copy(x_dtype == ActDtype::kF32 ? static_cast<size_t>(M) * K * 2 : 0, stream,
                      "cudaMallocAsync(bf16 activations)");
  const void* xb = bf16_activations(x, x_dtype, M * K, x_copy, stream);
  cublasHandle_t handle = cublas_on(stream);
  // Column-major view: yᵀ [N, M] = W [N, K] (stored row-major = Wᵀ column-major, op T) · xᵀ [K, M].
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const cublasStatus_t status =
      cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, N, static_cast<int>(M), K, &alpha, w.data, CUDA_R_16BF, K, xb,
                   CUDA_R_16BF, K, &beta, y, CUDA_R_32F, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  FP4_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLAS: bf16 GEMM [{}, {}] x [{}, {}]ᵀ failed: {}", M, K, N, K,
            cublasGetStatusString(status));
}

// F32 weights (MoE routers, MLA's absorbed per-head kv_b copies): cuBLAS SGEMM with the pedantic f32
// compute type, so no TF32 or reduced-precision reduction is used whatever the handle's math mode or the
// environment says: plain f32 products and f32 sums. cuBLAS takes any M, N, K and element-aligned pointers.
void run_cublas_f32(const WeightView& w, const void* x, ActDtype x_dtype, int64_t M, float* y, cudaStream_t stream) {
  const int N = static_cast<int>(w.rows);
  const int K = static_cast<int>(w.cols);
  FP4_CHECK(x_dtype == ActDtype::kF32,
            "cuda matmul: f32 weight [{}, {}] needs f32 activations x (bf16 x would lose the weight's precision)", N,
            K);
  FP4_CHECK(aligned(w.data, 4) && aligned(x, 4) && aligned(y, 4),
            "cuda matmul: f32 weight [{}, {}]: data, x and y must be 4-byte aligned", N, K);
  cublasHandle_t handle = cublas_on(stream);
  const float alpha = 1.0f;
  const float beta = 0.0f;
  const cublasStatus_t status =
      cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, N, static_cast<int>(M), K, &alpha, w.data, CUDA_R_32F, K, x,
                   CUDA_R_32F, K, &beta, y, CUDA_R_32F, N, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT);
  FP4_CHECK(status == CUBLAS_STATUS_SUCCESS, "cuBLAS: f32 GEMM [{}, {}] x [{}, {}]ᵀ failed: {}", M, K, N, K,
            cublasGetStatusString(status));
}

}  // namespace

const char* path_name(MatmulPath path) {
  switch (path) {
    case MatmulPath::kAuto: return "auto";
    case MatmulPath::kNvfp4Gemv: return "nvfp4-gemv";
    case MatmulPath::kNvfp4Mma: return "nvfp4-mma";
    case MatmulPath::kFp8Gemv: return "fp8-gemv";
    case MatmulPath::kFp8Mma: return "fp8-mma";
    case MatmulPath::kCublasBf16: return "cublas-bf16";
    case MatmulPath::kCublasF32: return "cublas-f32";
  }
  return "?";
}

MatmulPath auto_path(const WeightView& w, int64_t M) {
  switch (w.encoding) {
    case WeightEncoding::kNVFP4:
      return (M > kGemvMaxM && nvfp4_mma_ok(w)) ? MatmulPath::kNvfp4Mma : MatmulPath::kNvfp4Gemv;
    case WeightEncoding::kFP8Block:
      return (M > kGemvMaxM && fp8_mma_ok(w)) ? MatmulPath::kFp8Mma : MatmulPath::kFp8Gemv;
    case WeightEncoding::kBF16:
      return MatmulPath::kCublasBf16;
    case WeightEncoding::kF32:
      return MatmulPath::kCublasF32;
    case WeightEncoding::kF16:
      break;
  }
  return MatmulPath::kAuto;
}

void matmul(const WeightView& w, const void* x, ActDtype x_dtype, int64_t M, float* y, cudaStream_t stream,
            const MatmulOptions& options) {
  FP4_CHECK(M >= 0, "cuda matmul: M = {} rows of x must not be negative", M);
  check_dims(w, M);
  if (M == 0) return;
  FP4_CHECK(x != nullptr && y != nullptr, "cuda matmul: x or y is a null pointer (M = {})", M);
  const MatmulPath path = options.path == MatmulPath::kAuto ? auto_path(w, M) : options.path;
  const int64_t N = w.rows;
  const int64_t K = w.cols;
  switch (w.encoding) {
    case WeightEncoding::kNVFP4:
      FP4_CHECK(K % 16 == 0, "cuda matmul: nvfp4 weight [{}, {}]: cols (K) must be a multiple of the 16-element block",
                N, K);
      FP4_CHECK(w.block_scale != nullptr, "cuda matmul: nvfp4 weight [{}, {}] has no block_scale (weight_scale)", N,
                K);
      FP4_CHECK(std::isfinite(w.global_scale) && std::fabs(w.global_scale) < 1e30f,
                "cuda matmul: nvfp4 weight [{}, {}] has an unusable global scale {}", N, K, w.global_scale);
      FP4_CHECK(options.gemv_threads_per_row == 0 || options.gemv_threads_per_row == 32 ||
                    options.gemv_threads_per_row == 64 || options.gemv_threads_per_row == 128 ||
                    options.gemv_threads_per_row == 256,
                "cuda matmul: gemv_threads_per_row = {} must be 0 (automatic), 32, 64, 128 or 256",
                options.gemv_threads_per_row);
      if (path == MatmulPath::kNvfp4Gemv) return run_nvfp4_gemv(w, x, x_dtype, M, y, stream, options.gemv_threads_per_row);
      FP4_CHECK(path == MatmulPath::kNvfp4Mma, "cuda matmul: path {} cannot run an nvfp4 weight", path_name(path));
      FP4_CHECK(nvfp4_mma_ok(w),
                "cuda matmul: nvfp4 weight [{}, {}]: the tensor-core path needs K % 64 == 0, 16-byte aligned data "
                "and 4-byte aligned scales",
                N, K);
      return run_mma(w, x, x_dtype, M, y, stream, options.split_k);
    case WeightEncoding::kFP8Block:
      FP4_CHECK(w.block_scale_inv != nullptr && aligned(w.block_scale_inv, 4),
                "cuda matmul: fp8-block weight [{}, {}] has no (or a misaligned) block_scale_inv", N, K);
      FP4_CHECK(w.block_rows > 0 && w.block_cols > 0 && w.block_cols % 16 == 0,
                "cuda matmul: fp8-block weight [{}, {}] has block size {}x{}; the CUDA kernels need positive sizes "
                "and block_cols a multiple of 16",
                N, K, w.block_rows, w.block_cols);
      FP4_CHECK(K % 16 == 0 && aligned(w.data, 16),
                "cuda matmul: fp8-block weight [{}, {}]: the CUDA kernels need K % 16 == 0 and 16-byte aligned data",
                N, K);
      if (path == MatmulPath::kFp8Gemv) return run_fp8_gemv(w, x, x_dtype, M, y, stream);
      FP4_CHECK(path == MatmulPath::kFp8Mma, "cuda matmul: path {} cannot run an fp8-block weight", path_name(path));
      FP4_CHECK(fp8_mma_ok(w),
                "cuda matmul: fp8-block weight [{}, {}]: the tensor-core path needs block_rows % 128 == 0 and "
                "block_cols % 64 == 0 (got {}x{})",
                N, K, w.block_rows, w.block_cols);
      return run_mma(w, x, x_dtype, M, y, stream, options.split_k);
    case WeightEncoding::kBF16:
      FP4_CHECK(path == MatmulPath::kCublasBf16, "cuda matmul: path {} cannot run a bf16 weight", path_name(path));
      return run_cublas_bf16(w, x, x_dtype, M, y, stream);
    case WeightEncoding::kF32:
      FP4_CHECK(path == MatmulPath::kCublasF32, "cuda matmul: path {} cannot run an f32 weight", path_name(path));
      return run_cublas_f32(w, x, x_dtype, M, y, stream);
    case WeightEncoding::kF16:
      break;
  }
  fail("cuda matmul: weight [{}, {}] has encoding {}, which the CUDA backend does not run (nvfp4, fp8-block, bf16, "
       "f32)",
       N, K, encoding_name(w.encoding));
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device / no driver" status
    return 0;
  }
  return count;
}

}  // namespace fp4::cuda
