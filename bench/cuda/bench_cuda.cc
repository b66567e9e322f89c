// CUDA backend benchmark: the two ceilings and the kernels, measured in the same run.
//   ceilings: device-to-device cudaMemcpy (bytes read + written per second) and cuBLAS BF16 GEMM at 8192³;
//   NVFP4 GEMV at M = 1 on DeepSeek-R1 shapes, as % of the copy bandwidth counting weight + scale bytes;
//   NVFP4 (and FP8 block) matmul at M = 16, 64, 256, 4096 against cuBLAS BF16 on the same shapes;
//   the MoE grouped expert GEMV (moe_ops.h) on R1 expert shapes, as % of the copy bandwidth counting the
//   distinct experts' weight + scale bytes, next to one cuda::matmul per expert, and routing + grouping.
// `bench_cuda --moe` measures the copy ceilings and the MoE section only.
// Timing: each measurement captures a CUDA graph of many back-to-back calls (weights rotated over enough
// copies that they never fit in the 60 MB L2) and reports the median replay time per call over several
// replays, after a warm-up replay. Inputs are random (never zeros). Prints one table; the numbers are
// what the machine gave, with no pass/fail judgement.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/moe_ops.h"
#include "fp4/base/formats.h"
#include "fp4/ops/weight.h"

// copy_kernel.cu
cudaError_t launch_copy_kernel(const void* src, void* dst, size_t bytes, int sm_count, cudaStream_t stream);

namespace {

using fp4::WeightEncoding;
using fp4::WeightView;
using fp4::cuda::ActDtype;

void ok(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(err));
    std::exit(1);
  }
}
void ok(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cuBLAS error in %s: %s\n", what, cublasGetStatusString(status));
    std::exit(1);
  }
}

constexpr size_t kL2Defeat = 200u << 20;  // rotate weights over at least this many bytes

uint64_t g_state = 0x9E3779B97F4A7C15ull;
uint64_t next_random() {  // xorshift64*: fast, good enough for filling buffers
  g_state ^= g_state >> 12;
  g_state ^= g_state << 25;
  g_state ^= g_state >> 27;
  return g_state * 0x2545F4914F6CDD1Dull;
}

void* device_random_bytes(size_t bytes, uint8_t mask = 0xFF, uint8_t add = 0) {
  std::vector<uint8_t> host(bytes);
  for (size_t i = 0; i < bytes; i += 8) {
    uint64_t r = next_random();
    for (size_t j = 0; j < 8 && i + j < bytes; ++j, r >>= 8) host[i + j] = static_cast<uint8_t>((r & mask) + add);
  }
  void* d = nullptr;
  ok(cudaMalloc(&d, bytes), "cudaMalloc");
  ok(cudaMemcpy(d, host.data(), bytes, cudaMemcpyHostToDevice), "upload");
  return d;
}

void* device_random_bf16(size_t count, float scale) {
  std::vector<uint16_t> host(count);
  for (auto& v : host) {
    const float u = static_cast<float>(next_random() >> 40) / static_cast<float>(1 << 24);
    v = fp4::f32_to_bf16((2.0f * u - 1.0f) * scale);
  }
  void* d = nullptr;
  ok(cudaMalloc(&d, count * 2), "cudaMalloc");
  ok(cudaMemcpy(d, host.data(), count * 2, cudaMemcpyHostToDevice), "upload");
  return d;
}

// Median time in microseconds of one call, from graphs of `calls` calls (call(i) for i < calls).
double time_per_call_us(cudaStream_t stream, int calls, const std::function<void(int)>& call, int replays = 7) {
  call(0);  // warm-up outside the graph: module load, handle creation, allocator pools
  ok(cudaStreamSynchronize(stream), "warm-up");
  cudaGraph_t graph;
  ok(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
  for (int i = 0; i < calls; ++i) call(i);
  ok(cudaStreamEndCapture(stream, &graph), "end capture");
  cudaGraphExec_t exec;
  ok(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  cudaEvent_t start, stop;
  ok(cudaEventCreate(&start), "event");
  ok(cudaEventCreate(&stop), "event");
  ok(cudaGraphLaunch(exec, stream), "warm-up replay");
  std::vector<double> times;
  for (int r = 0; r < replays; ++r) {
    ok(cudaEventRecord(start, stream), "record");
    ok(cudaGraphLaunch(exec, stream), "replay");
    ok(cudaEventRecord(stop, stream), "record");
    ok(cudaEventSynchronize(stop), "sync");
    float ms = 0.f;
    ok(cudaEventElapsedTime(&ms, start, stop), "elapsed");
    times.push_back(1000.0 * ms / calls);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// A set of rotated NVFP4 / FP8 / BF16 copies of one [N, K] weight.
struct WeightSet {
  std::vector<WeightView> views;
  std::vector<void*> allocations;
  size_t bytes_per_copy = 0;
  ~WeightSet() {
    for (void* p : allocations) cudaFree(p);
  }
};

int copies_for(size_t bytes) { return static_cast<int>(std::clamp<size_t>((kL2Defeat + bytes - 1) / bytes, 1, 32)); }

void make_nvfp4_set(WeightSet& set, int N, int K) {
  const size_t data = static_cast<size_t>(N) * K / 2;
  const size_t scales = static_cast<size_t>(N) * K / 16;
  set.bytes_per_copy = data + scales;
  for (int c = 0; c < copies_for(set.bytes_per_copy); ++c) {
    WeightView w;
    w.encoding = WeightEncoding::kNVFP4;
    w.rows = N;
    w.cols = K;
    w.data = device_random_bytes(data);
    w.block_scale = static_cast<const uint8_t*>(device_random_bytes(scales, 0x3F, 0x18));  // UE4M3 2^-4 .. 2^4
    w.global_scale = 0x1p-8f;
    set.allocations.push_back(const_cast<void*>(w.data));
    set.allocations.push_back(const_cast<uint8_t*>(w.block_scale));
    set.views.push_back(w);
  }
}

void make_fp8_set(WeightSet& set, int N, int K) {
  const size_t data = static_cast<size_t>(N) * K;
  const size_t scales = static_cast<size_t>((N + 127) / 128) * ((K + 127) / 128);
  set.bytes_per_copy = data + scales * 4;
  std::vector<float> host_scales(scales, 0x1p-6f);
  for (int c = 0; c < copies_for(set.bytes_per_copy); ++c) {
    WeightView w;
    w.encoding = WeightEncoding::kFP8Block;
    w.rows = N;
    w.cols = K;
    w.data = device_random_bytes(data, 0x77);  // E4M3 codes without the NaN pattern 0x7F
    float* s = nullptr;
    ok(cudaMalloc(reinterpret_cast<void**>(&s), scales * 4), "cudaMalloc");
    ok(cudaMemcpy(s, host_scales.data(), scales * 4, cudaMemcpyHostToDevice), "upload");
    w.block_scale_inv = s;
    set.allocations.push_back(const_cast<void*>(w.data));
    set.allocations.push_back(s);
    set.views.push_back(w);
  }
}

void make_bf16_set(WeightSet& set, int N, int K) {
  set.bytes_per_copy = static_cast<size_t>(N) * K * 2;
  for (int c = 0; c < std::min(copies_for(set.bytes_per_copy), 8); ++c) {
    WeightView w;
    w.encoding = WeightEncoding::kBF16;
    w.rows = N;
    w.cols = K;
    w.data = device_random_bf16(static_cast<size_t>(N) * K, 0.05f);
    set.allocations.push_back(const_cast<void*>(w.data));
    set.views.push_back(w);
  }
}

struct Shape {
  const char* name;
  int N;
  int K;
};

// cuBLAS BF16 GEMM y[M, N] (bf16) = x[M, K] · W[N, K]ᵀ: the baseline's best case (bf16 output).
void cublas_bf16(cublasHandle_t h, const void* w, const void* x, void* y, int M, int N, int K) {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  ok(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, w, CUDA_R_16BF, K, x, CUDA_R_16BF, K, &beta, y,
                  CUDA_R_16BF, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
     "cublasGemmEx");
}


// ---- MoE: routing and the grouped expert GEMV ----------------------------------------------------------------
// A pool of 64 distinct NVFP4 [2048, 7168] matrices: gate of expert e is matrix e, up is matrix 32 + e, and
// down reads matrix e as [7168, 2048] (same byte count), so no two projections of one launch share bytes.
// Each timed graph rotates over 4 routings whose expert sets differ, so a call's weights are not in L2
// from the call before (8 experts × 8.3 MB × 4 = 264 MB per projection > the 50 MB L2).
void bench_moe(cudaStream_t stream, double copy_gbs, const std::function<void(const std::string&)>& row) {
  constexpr int kExperts = 32;
  constexpr int H = 7168;
  constexpr int I = 2048;
  constexpr int kRotations = 4;
  const size_t data = static_cast<size_t>(I) * H / 2;
  const size_t scales = static_cast<size_t>(I) * H / 16;
  const double matrix_bytes = static_cast<double>(data + scales);
  auto* codes = static_cast<uint8_t*>(device_random_bytes(2 * kExperts * data));
  auto* sc = static_cast<uint8_t*>(device_random_bytes(2 * kExperts * scales, 0x3F, 0x18));  // UE4M3 2^-4 .. 2^4
  auto view = [&](int matrix, int rows, int cols) {
    WeightView w;
    w.encoding = WeightEncoding::kNVFP4;
    w.rows = rows;
    w.cols = cols;
    w.data = codes + matrix * data;
    w.block_scale = sc + matrix * scales;
    w.global_scale = 0x1p-8f;
    return w;
  };
  std::vector<WeightView> gate, up, down;
  for (int e = 0; e < kExperts; ++e) {
    gate.push_back(view(e, I, H));
    up.push_back(view(kExperts + e, I, H));
    down.push_back(view(e, H, I));
  }
  const fp4::cuda::DeviceExpertTable gate_t(gate), up_t(up), down_t(down);
  constexpr int kMaxT = 8;
  constexpr int kTopK = 8;
  std::vector<float> host_x(static_cast<size_t>(kMaxT) * kTopK * I);
  for (auto& v : host_x) v = static_cast<float>(static_cast<double>(next_random() >> 40) / (1 << 24) * 2.0 - 1.0);
  float *x = nullptr, *act = nullptr, *gu = nullptr, *out = nullptr;
  ok(cudaMalloc(reinterpret_cast<void**>(&x), host_x.size() * 4), "cudaMalloc");
  ok(cudaMalloc(reinterpret_cast<void**>(&act), host_x.size() * 4), "cudaMalloc");
  ok(cudaMemcpy(x, host_x.data(), static_cast<size_t>(kMaxT) * H * 4, cudaMemcpyHostToDevice), "upload");
  ok(cudaMemcpy(act, host_x.data(), host_x.size() * 4, cudaMemcpyHostToDevice), "upload");
  ok(cudaMalloc(reinterpret_cast<void**>(&gu), static_cast<size_t>(kMaxT) * kTopK * 2 * I * 4), "cudaMalloc");
  ok(cudaMalloc(reinterpret_cast<void**>(&out), static_cast<size_t>(kMaxT) * kTopK * H * 4), "cudaMalloc");

  struct Scenario {
    const char* name;
    int tokens;
    bool same_experts;  // every token routed to the same 8 experts
  };
  const Scenario scenarios[] = {
      {"8 experts x 1 token", 1, true},
      {"8 experts x 8 tokens (shared)", 8, true},
      {"8 tokens, random over 32", 8, false},
  };
  char buf[512];
  row("");
  row("MoE grouped NVFP4 GEMV (moe_ops.h), R1 experts: gate+up 7168->2x2048 in one launch, down 2048->7168;");
  row("f32 activations; bytes = distinct experts' packed weights + scales; baseline = one cuda::matmul per expert");
  row("routing                         proj      experts  grouped us    GB/s  % of copy  per-expert us");
  for (const Scenario& sc_case : scenarios) {
    const int T = sc_case.tokens;
    std::vector<std::vector<int32_t>> routings;
    std::vector<void*> buffers;
    std::vector<fp4::cuda::ExpertGroups> groups;
    double distinct_sum = 0;
    for (int r = 0; r < kRotations; ++r) {
      std::vector<int32_t> ids(static_cast<size_t>(T) * kTopK);
      for (int t = 0; t < T; ++t) {
        std::vector<int32_t> pool(kExperts);
        for (int e = 0; e < kExperts; ++e) pool[e] = e;
        for (int j = 0; j < kTopK; ++j) {
          if (sc_case.same_experts) {
            ids[static_cast<size_t>(t) * kTopK + j] = r * kTopK + j;
          } else {
            const int pick = j + static_cast<int>(next_random() % static_cast<uint64_t>(kExperts - j));
            std::swap(pool[j], pool[pick]);
            ids[static_cast<size_t>(t) * kTopK + j] = pool[j];
          }
        }
        std::sort(ids.begin() + t * kTopK, ids.begin() + (t + 1) * kTopK);
      }
      std::vector<int32_t> sorted = ids;
      std::sort(sorted.begin(), sorted.end());
      distinct_sum += static_cast<double>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
      void* ws = nullptr;
      ok(cudaMalloc(&ws, fp4::cuda::expert_groups_bytes(T, kTopK, kExperts)), "cudaMalloc");
      void* d_ids = nullptr;
      ok(cudaMalloc(&d_ids, ids.size() * 4), "cudaMalloc");
      ok(cudaMemcpy(d_ids, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice), "upload");
      groups.push_back(fp4::cuda::expert_groups_in(ws, T, kTopK, kExperts));
      fp4::cuda::group_by_expert(static_cast<const int32_t*>(d_ids), groups.back(), stream);
      buffers.push_back(ws);
      buffers.push_back(d_ids);
      routings.push_back(sorted);
    }
    ok(cudaStreamSynchronize(stream), "grouping");
    const double distinct = distinct_sum / kRotations;
    const double gu_us = time_per_call_us(stream, 4 * kRotations, [&](int i) {
      fp4::cuda::grouped_expert_matmul(gate_t, &up_t, groups[i % kRotations], fp4::cuda::ExpertInput::kTokenRows, x, H,
                                       gu, 2 * I, stream);
    });
    const double down_us = time_per_call_us(stream, 4 * kRotations, [&](int i) {
      fp4::cuda::grouped_expert_matmul(down_t, nullptr, groups[i % kRotations], fp4::cuda::ExpertInput::kPairRows, act, I,
                                       out, H, stream);
    });
    // Baseline (shared routings only, where every expert takes all T tokens as one M = T matmul).
    double base_gu_us = 0, base_down_us = 0;
    if (sc_case.same_experts) {
      base_gu_us = time_per_call_us(stream, 4 * kRotations, [&](int i) {
        const std::vector<int32_t>& experts = routings[static_cast<size_t>(i % kRotations)];
        for (const int32_t e : experts) {
          fp4::cuda::matmul(gate[static_cast<size_t>(e)], x, ActDtype::kF32, T, gu, stream);
          fp4::cuda::matmul(up[static_cast<size_t>(e)], x, ActDtype::kF32, T, gu + I, stream);
        }
      });
      base_down_us = time_per_call_us(stream, 4 * kRotations, [&](int i) {
        const std::vector<int32_t>& experts = routings[static_cast<size_t>(i % kRotations)];
        for (const int32_t e : experts) fp4::cuda::matmul(down[static_cast<size_t>(e)], act, ActDtype::kF32, T, out, stream);
      });
    }
    const double gu_gbs = 2 * distinct * matrix_bytes / (gu_us * 1e3);
    const double down_gbs = distinct * matrix_bytes / (down_us * 1e3);
    snprintf(buf, sizeof buf, "%-31s %-9s %7.1f %11.2f %7.0f %9.1f%% %13s", sc_case.name, "gate+up", distinct, gu_us,
             gu_gbs, 100.0 * gu_gbs / copy_gbs, base_gu_us > 0 ? std::to_string(base_gu_us).substr(0, 7).c_str() : "-");
    row(buf);
    snprintf(buf, sizeof buf, "%-31s %-9s %7.1f %11.2f %7.0f %9.1f%% %13s", sc_case.name, "down", distinct, down_us,
             down_gbs, 100.0 * down_gbs / copy_gbs,
             base_down_us > 0 ? std::to_string(base_down_us).substr(0, 7).c_str() : "-");
    row(buf);
    for (void* p : buffers) cudaFree(p);
  }

  // Routing + grouping, R1 router (256 experts, 8 groups keep 4, top 8), per call.
  fp4::cuda::RouterConfig r1;
  r1.num_experts = 256;
  r1.top_k = 8;
  r1.n_group = 8;
  r1.topk_group = 4;
  r1.scoring = fp4::cuda::RouterScoring::kSigmoid;
  r1.selection = fp4::cuda::RouterSelection::kNoauxTc;
  r1.norm_topk_prob = true;
  r1.routed_scaling_factor = 2.5f;
  row("");
  row("MoE routing on the device, R1 router (256 experts, groups 8 keep 4, top 8)");
  row("tokens   route us   route+group us");
  for (const int T : {1, 8, 64}) {
    std::vector<float> logits(static_cast<size_t>(T) * 256), bias(256);
    for (auto& v : logits) v = static_cast<float>(static_cast<double>(next_random() >> 40) / (1 << 24) * 8.0 - 4.0);
    for (auto& v : bias) v = static_cast<float>(static_cast<double>(next_random() >> 40) / (1 << 24) - 0.5);
    float *d_logits = nullptr, *d_bias = nullptr, *d_w = nullptr;
    int32_t* d_e = nullptr;
    void* ws = nullptr;
    ok(cudaMalloc(reinterpret_cast<void**>(&d_logits), logits.size() * 4), "cudaMalloc");
    ok(cudaMalloc(reinterpret_cast<void**>(&d_bias), bias.size() * 4), "cudaMalloc");
    ok(cudaMalloc(reinterpret_cast<void**>(&d_w), static_cast<size_t>(T) * 8 * 4), "cudaMalloc");
    ok(cudaMalloc(reinterpret_cast<void**>(&d_e), static_cast<size_t>(T) * 8 * 4), "cudaMalloc");
    ok(cudaMalloc(&ws, fp4::cuda::expert_groups_bytes(T, 8, 256)), "cudaMalloc");
    ok(cudaMemcpy(d_logits, logits.data(), logits.size() * 4, cudaMemcpyHostToDevice), "upload");
    ok(cudaMemcpy(d_bias, bias.data(), bias.size() * 4, cudaMemcpyHostToDevice), "upload");
    const fp4::cuda::ExpertGroups g = fp4::cuda::expert_groups_in(ws, T, 8, 256);
    const double route_us = time_per_call_us(stream, 50, [&](int) {
      fp4::cuda::route(r1, d_logits, d_bias, T, d_e, d_w, stream);
    });
    const double both_us = time_per_call_us(stream, 50, [&](int) {
      fp4::cuda::route(r1, d_logits, d_bias, T, d_e, d_w, stream);
      fp4::cuda::group_by_expert(d_e, g, stream);
    });
    snprintf(buf, sizeof buf, "%6d %10.2f %16.2f", T, route_us, both_us);
    row(buf);
    cudaFree(d_logits);
    cudaFree(d_bias);
    cudaFree(d_w);
    cudaFree(d_e);
    cudaFree(ws);
  }
  cudaFree(codes);
  cudaFree(sc);
  cudaFree(x);
  cudaFree(act);
  cudaFree(gu);
  cudaFree(out);
}

}  // namespace

// `bench_cuda --profile`: one NVFP4 tensor-core call at M = 16 and one at M = 4096 on the expert shape,
// without graphs, for a profiler (ncu) to attach to.
int profile_once() {
  cudaStream_t stream;
  ok(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  WeightSet nv;
  make_nvfp4_set(nv, 2048, 7168);
  void* x = device_random_bf16(4096ull * 7168, 1.0f);
  float* y = nullptr;
  ok(cudaMalloc(reinterpret_cast<void**>(&y), 4096ull * 2048 * 4), "cudaMalloc");
  for (int M : {1, 16, 4096}) fp4::cuda::matmul(nv.views[0], x, ActDtype::kBF16, M, y, stream);
  ok(cudaStreamSynchronize(stream), "profile run");
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--profile") return profile_once();
  if (fp4::cuda::device_count() == 0) {
    std::printf("no CUDA device: nothing to measure\n");
    return 77;
  }
  cudaDeviceProp prop;
  ok(cudaGetDeviceProperties(&prop, 0), "properties");
  std::printf("device: %s, %d SMs, L2 %d MB\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize >> 20);
  cudaStream_t stream;
  ok(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
  cublasHandle_t handle;
  ok(cublasCreate(&handle), "cublasCreate");
  ok(cublasSetStream(handle, stream), "cublasSetStream");

  std::vector<std::string> table;
  auto row = [&](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    table.push_back(line);
  };
  char buf[512];

  // ---- Ceilings -------------------------------------------------------------------------------------
  const size_t copy_bytes = 2ull << 30;
  void* src = device_random_bytes(copy_bytes);
  void* dst = nullptr;
  ok(cudaMalloc(&dst, copy_bytes), "cudaMalloc");
  const double copy_us = time_per_call_us(stream, 10, [&](int) {
    ok(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice, stream), "copy");
  });
  const double memcpy_gbs = 2.0 * copy_bytes / (copy_us * 1e3);
  const double kernel_us = time_per_call_us(stream, 10, [&](int) {
    ok(launch_copy_kernel(src, dst, copy_bytes, prop.multiProcessorCount, stream), "copy kernel");
  });
  const double kernel_gbs = 2.0 * copy_bytes / (kernel_us * 1e3);
  cudaFree(src);
  cudaFree(dst);
  snprintf(buf, sizeof buf, "ceiling  cudaMemcpy device-to-device (2 GiB, read+write) %8.1f us  %7.0f GB/s", copy_us,
           memcpy_gbs);
  row(buf);
  snprintf(buf, sizeof buf, "ceiling  copy kernel, 16-byte accesses (read+write)     %8.1f us  %7.0f GB/s", kernel_us,
           kernel_gbs);
  row(buf);
  // The GEMV rows report % of the higher of the two: the stricter reading.
  const double copy_gbs = std::max(memcpy_gbs, kernel_gbs);
  if (argc > 1 && std::string(argv[1]) == "--moe") {
    bench_moe(stream, copy_gbs, row);
    std::printf("\n==== table ====\n");
    for (const std::string& line : table) std::printf("%s\n", line.c_str());
    cublasDestroy(handle);
    cudaStreamDestroy(stream);
    return 0;
  }

  const int big = 8192;
  void* a = device_random_bf16(static_cast<size_t>(big) * big, 1.0f);
  void* b = device_random_bf16(static_cast<size_t>(big) * big, 1.0f);
  void* c = nullptr;
  ok(cudaMalloc(&c, static_cast<size_t>(big) * big * 2), "cudaMalloc");
  const double gemm_us = time_per_call_us(stream, 10, [&](int) { cublas_bf16(handle, a, b, c, big, big, big); });
  const double peak_tflops = 2.0 * big * big * static_cast<double>(big) / (gemm_us * 1e6);
  cudaFree(a);
  cudaFree(b);
  cudaFree(c);
  snprintf(buf, sizeof buf, "ceiling  cuBLAS BF16 GEMM 8192^3                         %8.1f us  %7.1f TFLOP/s",
           gemm_us, peak_tflops);
  row(buf);

  // ---- NVFP4 GEMV, M = 1 ------------------------------------------------------------------------------
  const Shape gemv_shapes[] = {
      {"R1 expert gate/up 7168->2048", 2048, 7168},
      {"R1 expert down    2048->7168", 7168, 2048},
      {"R1 dense gate/up  7168->18432", 18432, 7168},
      {"R1 dense down     18432->7168", 7168, 18432},
      {"R1 q_b-like       1536->24576", 24576, 1536},
  };
  row("");
  row("NVFP4 GEMV, M = 1, bf16 activations (bytes = packed weights + UE4M3 scales; % of the higher copy ceiling)");
  row("shape                               N      K  threads/row  us/call    GB/s   % of copy");
  void* x_small = device_random_bf16(8 * 18432, 1.0f);
  float* y_small = nullptr;
  ok(cudaMalloc(reinterpret_cast<void**>(&y_small), 8ull * 24576 * 4), "cudaMalloc");
  for (const Shape& s : gemv_shapes) {
    WeightSet set;
    make_nvfp4_set(set, s.N, s.K);
    const int copies = static_cast<int>(set.views.size());
    for (int tpr : {0, 32, 64, 128, 256}) {  // 0: the automatic choice; the others show what it chose from
      fp4::cuda::MatmulOptions options;
      options.gemv_threads_per_row = tpr;
      const double us = time_per_call_us(stream, 4 * copies, [&](int i) {
        fp4::cuda::matmul(set.views[i % copies], x_small, ActDtype::kBF16, 1, y_small, stream, options);
      });
      const double gbs = set.bytes_per_copy / (us * 1e3);
      snprintf(buf, sizeof buf, "%-30s %6d %6d %8s %9.2f %8.0f %8.1f%%", s.name, s.N, s.K,
               tpr == 0 ? "auto" : std::to_string(tpr).c_str(), us, gbs, 100.0 * gbs / copy_gbs);
      row(buf);
    }
  }

  // ---- Matmul vs cuBLAS BF16 --------------------------------------------------------------------------
  const Shape mm_shapes[] = {
      {"expert 7168->2048", 2048, 7168},
      {"dense 7168->18432", 18432, 7168},
  };
  const int ms[] = {16, 64, 256, 4096};
  void* x_big = device_random_bf16(4096ull * 7168, 1.0f);
  float* y_big = nullptr;
  ok(cudaMalloc(reinterpret_cast<void**>(&y_big), 4096ull * 18432 * 4), "cudaMalloc");
  row("");
  row("NVFP4 / FP8-block matmul (ours, f32 out) vs cuBLAS BF16 (bf16 out), bf16 activations");
  row("shape                 M   path           ours us  TFLOP/s  cuBLAS us  TFLOP/s  speedup");
  for (const Shape& s : mm_shapes) {
    WeightSet nv;
    make_nvfp4_set(nv, s.N, s.K);
    WeightSet f8;
    make_fp8_set(f8, s.N, s.K);
    WeightSet bf;
    make_bf16_set(bf, s.N, s.K);
    for (int M : ms) {
      const double flop = 2.0 * M * s.N * static_cast<double>(s.K);
      const int reps = M >= 1024 ? 3 : 1;
      const int nvc = static_cast<int>(nv.views.size());
      const int f8c = static_cast<int>(f8.views.size());
      const int bfc = static_cast<int>(bf.views.size());
      const double cublas_us = time_per_call_us(stream, reps * bfc, [&](int i) {
        cublas_bf16(handle, bf.views[i % bfc].data, x_big, y_big, M, s.N, s.K);
      });
      const double nv_us = time_per_call_us(stream, reps * nvc, [&](int i) {
        fp4::cuda::matmul(nv.views[i % nvc], x_big, ActDtype::kBF16, M, y_big, stream);
      });
      const double f8_us = time_per_call_us(stream, reps * f8c, [&](int i) {
        fp4::cuda::matmul(f8.views[i % f8c], x_big, ActDtype::kBF16, M, y_big, stream);
      });
      snprintf(buf, sizeof buf, "%-18s %5d   %-12s %9.1f %8.1f %10.1f %8.1f %7.2fx", s.name, M,
               fp4::cuda::path_name(fp4::cuda::auto_path(nv.views[0], M)), nv_us, flop / (nv_us * 1e6), cublas_us,
               flop / (cublas_us * 1e6), cublas_us / nv_us);
      row(buf);
      snprintf(buf, sizeof buf, "%-18s %5d   %-12s %9.1f %8.1f %10.1f %8.1f %7.2fx", s.name, M,
               fp4::cuda::path_name(fp4::cuda::auto_path(f8.views[0], M)), f8_us, flop / (f8_us * 1e6), cublas_us,
               flop / (cublas_us * 1e6), cublas_us / f8_us);
      row(buf);
    }
  }

  // ---- Split-K sweep for the 16-row tile (M = 16, expert shape) ----------------------------------------
  row("");
  row("NVFP4 tensor-core matmul, M = 16, expert 7168->2048: K slices (auto = the plan's choice)");
  row("split        us/call");
  {
    WeightSet nv;
    make_nvfp4_set(nv, 2048, 7168);
    const int nvc = static_cast<int>(nv.views.size());
    for (int split : {0, 8, 17, 34, 56}) {
      fp4::cuda::MatmulOptions options;
      options.split_k = split;
      const double us = time_per_call_us(stream, nvc, [&](int i) {
        fp4::cuda::matmul(nv.views[i % nvc], x_big, ActDtype::kBF16, 16, y_big, stream, options);
      });
      snprintf(buf, sizeof buf, "%-10s %9.2f", split == 0 ? "auto" : std::to_string(split).c_str(), us);
      row(buf);
    }
  }

  // ---- FP8-block GEMV, M = 1 --------------------------------------------------------------------------
  row("");
  row("FP8-block GEMV, M = 1, bf16 activations (bytes = e4m3 weights + f32 block multipliers)");
  row("shape                               N      K    us/call    GB/s   % of copy");
  for (const Shape& s : gemv_shapes) {
    WeightSet set;
    make_fp8_set(set, s.N, s.K);
    const int copies = static_cast<int>(set.views.size());
    const double us = time_per_call_us(stream, 4 * copies, [&](int i) {
      fp4::cuda::matmul(set.views[i % copies], x_small, ActDtype::kBF16, 1, y_small, stream);
    });
    const double gbs = set.bytes_per_copy / (us * 1e3);
    snprintf(buf, sizeof buf, "%-30s %6d %6d %9.2f %8.0f %8.1f%%", s.name, s.N, s.K, us, gbs, 100.0 * gbs / copy_gbs);
    row(buf);
  }
  bench_moe(stream, copy_gbs, row);
  cudaFree(x_small);
  cudaFree(y_small);
  cudaFree(x_big);
  cudaFree(y_big);
  cublasDestroy(handle);
  cudaStreamDestroy(stream);

  std::printf("\n==== table ====\n");
  for (const std::string& line : table) std::printf("%s\n", line.c_str());
  return 0;
}
