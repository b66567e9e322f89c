// The mixture-of-experts layer on the GPU without host round trips: routing on the device, the (token,
// slot) pairs grouped by expert on the device, one grouped matmul launch per projection over the chosen
// experts only, and the weighted combine. Nothing here reads a device value on the host, so a decode step
// built from these calls can be captured in a CUDA graph (the grouped matmul sizes its grid for the most
// experts T·top_k pairs can choose and reads the real count on the device).
//
// A layer, for T tokens (x [T, H] f32; experts' gate/up [I, H], down [H, I]):
//   route(config, logits [T, E], bias, T, experts [T, k], weights [T, k])
//   group_by_expert(experts, groups)
//   grouped_expert_matmul(gate, &up, groups, kTokenRows, x, H, gate_up [T·k, 2I], 2I)
//   silu_mul_rows(gate_up, 2I, gate_up + I, 2I, T·k, I, act [T·k, I], I)      (cuda_ops.h)
//   grouped_expert_matmul(down, nullptr, groups, kPairRows, act, I, out [T·k, H], H)
//   moe_combine(out, H, weights, T, k, H, shared [T, H] or nullptr, H, y [T, H], H)
//
// Conventions are cuda_ops.h's: DEVICE pointers, enqueued on `stream`, no synchronisation, argument errors
// throw fp4::Error before anything is enqueued, a failed launch throws naming the kernel.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fp4/ops/weight.h"

namespace fp4::io {
struct MoeConfig;
}

namespace fp4::cuda {

// ---- Routing ------------------------------------------------------------------------------------------------

enum class RouterScoring : uint8_t { kSigmoid, kSoftmax };              // V3 / V2
enum class RouterSelection : uint8_t { kGreedy, kGroupLimitedGreedy, kNoauxTc };

// What model/moe.cc route_from_logits reads from io::MoeConfig.
struct RouterConfig {
  int64_t num_experts = 0;  // E ≤ 256
  int64_t top_k = 0;        // 1..E
  int64_t n_group = 1;      // divides E
  int64_t topk_group = 1;   // 1..n_group
  RouterScoring scoring = RouterScoring::kSigmoid;
  RouterSelection selection = RouterSelection::kGreedy;
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;  // applied in f32, as the CPU does
};

// The router settings of a DeepSeek config (scoring_func, topk_method and the sizes); an unknown
// scoring_func or topk_method is an fp4::Error naming the value.
RouterConfig router_config(const io::MoeConfig& moe);

// Routing with model/moe.cc's semantics, one CTA per token:
//   scores s = sigmoid(logits) or softmax(logits); selection values b = s + bias (noaux_tc; bias [E]
//   device, required there and ignored otherwise); group-limited selection (noaux_tc: group score = sum of
//   the two largest b, group_limited_greedy: max; keep topk_group groups, others −inf); top-k of b in
//   cpu::topk's order (ties toward the lower id, NaN first); ids ascending; weights = s at the chosen ids,
//   / (Σ + 1e-20) when norm_topk_prob, × routed_scaling_factor, with the CPU's f32 operations in its order.
// logits: [T, E] f32. experts: [T, top_k] int32, weights: [T, top_k] f32. scores: [T, E] (the unbiased s),
// written when not nullptr. The scores agree with the CPU's to a few ulp (the exp differs); given equal
// scores, the choice and the weights are bit-identical (docs/cuda.md).
void route(const RouterConfig& config, const float* logits, const float* bias, int64_t tokens, int32_t* experts,
           float* weights, cudaStream_t stream, float* scores = nullptr);

// ---- Grouping pairs by expert -----------------------------------------------------------------------------

// Device buffers of a grouping of T·top_k (token, slot) pairs, pair p = t·top_k + j. Carved from one
// workspace of expert_groups_bytes() by expert_groups_in().
struct ExpertGroups {
  int64_t tokens = 0;
  int64_t top_k = 0;
  int64_t num_experts = 0;
  int32_t* count = nullptr;         // [1] distinct experts chosen
  int32_t* group_expert = nullptr;  // [max_groups()] their ids, ascending
  int32_t* group_start = nullptr;   // [max_groups() + 1] each group's first entry in `order`
  int32_t* order = nullptr;         // [T·top_k] pair indices, by expert, token order within an expert

  int64_t pairs() const { return tokens * top_k; }
  int64_t max_groups() const { return pairs() < num_experts ? pairs() : num_experts; }
};

// Limits of the one-CTA grouping kernel (decode-sized batches): T·top_k ≤ 4096, E ≤ 1024.
constexpr int64_t kMaxGroupedPairs = 4096;
constexpr int64_t kMaxGroupedExperts = 1024;

size_t expert_groups_bytes(int64_t tokens, int64_t top_k, int64_t num_experts);
// workspace: device, 16-byte aligned, expert_groups_bytes() long.
ExpertGroups expert_groups_in(void* workspace, int64_t tokens, int64_t top_k, int64_t num_experts);

// Groups the pairs of experts [T, top_k] (each id in [0, E); a pair with an id outside is left out of
// every group and its output rows are not written).
void group_by_expert(const int32_t* experts, const ExpertGroups& groups, cudaStream_t stream);

// ---- Grouped expert matmul -----------------------------------------------------------------------------------

// One projection (gate, up or down) of every routed expert, as a device table the grouped kernel indexes
// by expert id. Built once from the experts' WeightViews (device pointers, stored encoding); checks that
// they share encoding and shape and are aligned as the kernel reads them. NVFP4 only for now: other
// encodings are an fp4::Error (run those experts with cuda::matmul one by one).
class DeviceExpertTable {
 public:
  explicit DeviceExpertTable(const std::vector<WeightView>& experts);
  ~DeviceExpertTable();
  DeviceExpertTable(DeviceExpertTable&& other) noexcept;
  DeviceExpertTable& operator=(DeviceExpertTable&& other) noexcept;
  DeviceExpertTable(const DeviceExpertTable&) = delete;
  DeviceExpertTable& operator=(const DeviceExpertTable&) = delete;

  WeightEncoding encoding() const { return encoding_; }
  int64_t rows() const { return rows_; }       // N of every expert
  int64_t cols() const { return cols_; }       // K of every expert
  int64_t experts() const { return experts_; }
  const void* device_table() const { return table_; }

 private:
  WeightEncoding encoding_ = WeightEncoding::kNVFP4;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  int64_t experts_ = 0;
  void* table_ = nullptr;
};

// Where a pair's activation row comes from.
enum class ExpertInput : uint8_t {
  kTokenRows,  // x row t for pair (t, j): gate/up, the token's hidden state shared by its top_k slots
  kPairRows,   // x row p = t·top_k + j: down, the slot's own intermediate row
};

// y[p, 0:N] = x_row(p) · W_{expert(p)}ᵀ for every grouped pair p, in one launch; with `second` (same
// shape and encoding, e.g. up next to gate) also y[p, N:2N] from it. x: f32 rows of K with stride
// x_stride (16-byte aligned rows); y: f32 rows with stride y_stride ≥ N (2N with second). Each expert's
// weight bytes are read once per step for all its pairs (up to 8 rows per pass). Same arithmetic and
// error bound as the NVFP4 GEMV (docs/cuda.md).
void grouped_expert_matmul(const DeviceExpertTable& w, const DeviceExpertTable* second, const ExpertGroups& groups,
                           ExpertInput input, const float* x, int64_t x_stride, float* y, int64_t y_stride,
                           cudaStream_t stream);

// ---- Combine --------------------------------------------------------------------------------------------------

// y[t, :n] = Σ_j weights[t, j] · src[t·top_k + j, :n] in slot order (ascending expert id as route()
// writes them), then + shared[t, :n] when shared is not nullptr: the CPU's summation, bit for bit.
void moe_combine(const float* src, int64_t src_stride, const float* weights, int64_t tokens, int64_t top_k, int64_t n,
                 const float* shared, int64_t shared_stride, float* y, int64_t y_stride, cudaStream_t stream);

}  // namespace fp4::cuda
