// Launchers of the mixture-of-experts kernels (moe.cu), called by the validated host entry points of
// moe_ops.cc. Like kernels.h: raw device pointers the caller has checked, a cudaError_t back, nothing
// thrown, so the .cu file needs none of the host-side error machinery.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace fp4::cuda::detail {

// ---- Routing ---------------------------------------------------------------------------------------------
constexpr int kRouteThreads = 256;  // one thread per expert: the largest expert count the kernel takes
constexpr int kRouteMaxExperts = kRouteThreads;

enum RouteScoring : int { kScoreSigmoid = 0, kScoreSoftmax = 1 };

struct RouteArgs {
  const float* logits = nullptr;  // [T, E]
  const float* bias = nullptr;    // [E] correction bias (noaux_tc), else nullptr
  int32_t* experts = nullptr;     // [T, top_k] ascending ids
  float* weights = nullptr;       // [T, top_k]
  float* scores = nullptr;        // [T, E] the unbiased scores, or nullptr
  int tokens = 0;
  int num_experts = 0;
  int top_k = 0;
  int n_group = 1;
  int topk_group = 1;
  int scoring = kScoreSigmoid;
  bool grouped = false;          // group-limited selection (noaux_tc or group_limited_greedy with n_group > 1)
  bool group_by_top2_sum = false;  // noaux_tc: a group's score is the sum of its two largest; else its max
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;
};
cudaError_t launch_route(const RouteArgs& args, cudaStream_t stream);

// ---- Grouping (token, slot) pairs by expert ------------------------------------------------------------
// One CTA: counts per expert, then each pair's place (expert order, token order within an expert).
constexpr int kGroupThreads = 1024;
constexpr int kGroupMaxExperts = 1024;  // shared-memory counters
constexpr int kGroupMaxPairs = 4096;    // pairs staged in shared memory

struct GroupArgs {
  const int32_t* experts = nullptr;  // [pairs] expert of pair p = t·top_k + j
  int pairs = 0;
  int num_experts = 0;
  int32_t* count = nullptr;         // [1] distinct experts
  int32_t* group_expert = nullptr;  // [max_groups]
  int32_t* group_start = nullptr;   // [max_groups + 1]
  int32_t* order = nullptr;         // [pairs] pair indices grouped by expert
};
cudaError_t launch_group_by_expert(const GroupArgs& args, cudaStream_t stream);

// ---- Grouped NVFP4 GEMV -------------------------------------------------------------------------------------
// One expert's projection as the kernel reads it (a table of these lives in device memory).
struct ExpertWeightDesc {
  const uint8_t* data = nullptr;    // NVFP4: packed E2M1 [N, K/2], 16-byte aligned
  const uint8_t* scales = nullptr;  // NVFP4: UE4M3 [N, K/16], 2-byte aligned
  float global_scale = 1.0f;
  float reserved = 0.0f;
};

struct GroupedGemvArgs {
  const ExpertWeightDesc* tables[2] = {nullptr, nullptr};  // [E] each; the second is optional
  int num_tables = 1;            // output columns [t·N, (t+1)·N) come from table t
  int N = 0;                     // rows of one expert's weight
  int K = 0;                     // columns (multiple of 32)
  const float* x = nullptr;      // activation rows, f32
  int64_t x_stride = 0;          // floats between rows
  int x_row_divisor = 1;         // the activation row of pair p is p / x_row_divisor (top_k: token rows; 1: pair rows)
  float* y = nullptr;            // [pairs, y_stride] row p = pair p
  int64_t y_stride = 0;
  const int32_t* count = nullptr;         // grouping (GroupArgs's outputs)
  const int32_t* group_expert = nullptr;
  const int32_t* group_start = nullptr;
  const int32_t* order = nullptr;
  int max_groups = 0;
  int max_tokens_per_expert = 1; // a bound on any group's size (the token count): picks the kernel's M
};
cudaError_t launch_grouped_nvfp4_gemv(const GroupedGemvArgs& args, int sm_count, cudaStream_t stream);

// ---- Combine ---------------------------------------------------------------------------------------------------
// y[t, c] = Σ_j weights[t, j] · src[t·top_k + j, c] in slot order (+ shared[t, c] after the sum when given).
cudaError_t launch_moe_combine(const float* src, int64_t src_stride, const float* weights, int tokens, int top_k,
                               int n, const float* shared, int64_t shared_stride, float* y, int64_t y_stride,
                               cudaStream_t stream);

}  // namespace fp4::cuda::detail
