// Host entry points of moe_ops.h: argument checks, the expert tables, the grouping workspace, launches.
#include "fp4/backends/cuda/moe_ops.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/backends/cuda/device_context.h"
#include "fp4/backends/cuda/moe_kernels.h"
#include "fp4/base/error.h"
#include "fp4/io/model_config.h"

namespace fp4::cuda {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }
size_t round_up16(size_t bytes) { return (bytes + 15) / 16 * 16; }

}  // namespace

RouterConfig router_config(const io::MoeConfig& moe) {
  RouterConfig c;
  c.num_experts = moe.n_routed_experts;
  c.top_k = moe.num_experts_per_tok;
  c.n_group = moe.n_group;
  c.topk_group = moe.topk_group;
  c.norm_topk_prob = moe.norm_topk_prob;
  c.routed_scaling_factor = static_cast<float>(moe.routed_scaling_factor);
  if (moe.scoring_func == "sigmoid") {
    c.scoring = RouterScoring::kSigmoid;
  } else if (moe.scoring_func == "softmax") {
    c.scoring = RouterScoring::kSoftmax;
  } else {
    fail("cuda MoE routing: scoring_func '{}' is not one of sigmoid, softmax", moe.scoring_func);
  }
  if (moe.topk_method == "noaux_tc") {
    c.selection = RouterSelection::kNoauxTc;
  } else if (moe.topk_method == "group_limited_greedy") {
    c.selection = RouterSelection::kGroupLimitedGreedy;
  } else if (moe.topk_method == "greedy") {
    c.selection = RouterSelection::kGreedy;
  } else {
    fail("cuda MoE routing: topk_method '{}' is not one of noaux_tc, group_limited_greedy, greedy", moe.topk_method);
  }
  return c;
}

void route(const RouterConfig& c, const float* logits, const float* bias, int64_t tokens, int32_t* experts,
           float* weights, cudaStream_t stream, float* scores) {
  const int64_t E = c.num_experts;
  FP4_CHECK(E >= 1 && E <= detail::kRouteMaxExperts, "cuda MoE routing: num_experts = {} must be in [1, {}]", E,
            detail::kRouteMaxExperts);
  FP4_CHECK(c.top_k >= 1 && c.top_k <= E, "cuda MoE routing: top_k = {} must be in [1, num_experts = {}]", c.top_k, E);
  FP4_CHECK(c.n_group >= 1 && c.n_group <= E && E % c.n_group == 0,
            "cuda MoE routing: n_group = {} must divide num_experts = {}", c.n_group, E);
  FP4_CHECK(c.topk_group >= 1 && c.topk_group <= c.n_group, "cuda MoE routing: topk_group = {} must be in [1, n_group = {}]",
            c.topk_group, c.n_group);
  FP4_CHECK(tokens >= 0 && tokens <= kMaxInt, "cuda MoE routing: tokens = {} must be in [0, 2^31)", tokens);
  const bool noaux = c.selection == RouterSelection::kNoauxTc;
  if (tokens == 0) return;
  FP4_CHECK(logits != nullptr && experts != nullptr && weights != nullptr,
            "cuda MoE routing: logits, experts or weights is a null pointer");
  FP4_CHECK(!noaux || bias != nullptr, "cuda MoE routing: noaux_tc needs the e_score_correction_bias [{}] (got null)", E);

  detail::RouteArgs a;
  a.logits = logits;
  a.bias = noaux ? bias : nullptr;
  a.experts = experts;
  a.weights = weights;
  a.scores = scores;
  a.tokens = static_cast<int>(tokens);
  a.num_experts = static_cast<int>(E);
  a.top_k = static_cast<int>(c.top_k);
  a.n_group = static_cast<int>(c.n_group);
  a.topk_group = static_cast<int>(c.topk_group);
  a.scoring = c.scoring == RouterScoring::kSigmoid ? detail::kScoreSigmoid : detail::kScoreSoftmax;
  // As the CPU: group-limited only with more than one group and a group-limited method.
  a.grouped = c.n_group > 1 && c.selection != RouterSelection::kGreedy;
  a.group_by_top2_sum = noaux;
  a.norm_topk_prob = c.norm_topk_prob;
  a.routed_scaling_factor = c.routed_scaling_factor;
  check_cuda(detail::launch_route(a, stream), "MoE route launch");
}

size_t expert_groups_bytes(int64_t tokens, int64_t top_k, int64_t num_experts) {
  FP4_CHECK(tokens >= 0 && top_k >= 1 && num_experts >= 1,
            "cuda MoE grouping: tokens = {}, top_k = {}, num_experts = {} must be ≥ 0, ≥ 1, ≥ 1", tokens, top_k,
            num_experts);
  const int64_t pairs = tokens * top_k;
  const int64_t groups = std::min(pairs, num_experts);
  return round_up16(sizeof(int32_t)) + round_up16(sizeof(int32_t) * static_cast<size_t>(groups)) +
         round_up16(sizeof(int32_t) * static_cast<size_t>(groups + 1)) +
         round_up16(sizeof(int32_t) * static_cast<size_t>(pairs));
}

ExpertGroups expert_groups_in(void* workspace, int64_t tokens, int64_t top_k, int64_t num_experts) {
  const size_t bytes = expert_groups_bytes(tokens, top_k, num_experts);
  FP4_CHECK(workspace != nullptr && aligned(workspace, 16),
            "cuda MoE grouping: the workspace ({} bytes) must be a 16-byte aligned device pointer", bytes);
  ExpertGroups g;
  g.tokens = tokens;
  g.top_k = top_k;
  g.num_experts = num_experts;
  auto* p = static_cast<uint8_t*>(workspace);
  g.count = reinterpret_cast<int32_t*>(p);
  p += round_up16(sizeof(int32_t));
  g.group_expert = reinterpret_cast<int32_t*>(p);
  p += round_up16(sizeof(int32_t) * static_cast<size_t>(g.max_groups()));
  g.group_start = reinterpret_cast<int32_t*>(p);
  p += round_up16(sizeof(int32_t) * static_cast<size_t>(g.max_groups() + 1));
  g.order = reinterpret_cast<int32_t*>(p);
  return g;
}

namespace {

void check_groups(const ExpertGroups& g, const char* what) {
  FP4_CHECK(g.tokens >= 0 && g.top_k >= 1 && g.num_experts >= 1,
            "cuda {}: grouping shape tokens = {}, top_k = {}, num_experts = {} is invalid", what, g.tokens, g.top_k,
            g.num_experts);
  FP4_CHECK(g.pairs() <= kMaxGroupedPairs, "cuda {}: {} (token, slot) pairs exceed the grouping kernel's {}", what,
            g.pairs(), kMaxGroupedPairs);
  FP4_CHECK(g.num_experts <= kMaxGroupedExperts, "cuda {}: {} experts exceed the grouping kernel's {}", what,
            g.num_experts, kMaxGroupedExperts);
  FP4_CHECK(g.pairs() == 0 ||
                (g.count != nullptr && g.group_expert != nullptr && g.group_start != nullptr && g.order != nullptr),
            "cuda {}: the grouping's buffers are null (use expert_groups_in)", what);
}

}  // namespace

void group_by_expert(const int32_t* experts, const ExpertGroups& groups, cudaStream_t stream) {
  check_groups(groups, "group_by_expert");
  static_assert(kMaxGroupedPairs <= detail::kGroupMaxPairs && kMaxGroupedExperts <= detail::kGroupMaxExperts,
                "the public limits are the kernel's");
  if (groups.pairs() == 0) return;
  FP4_CHECK(experts != nullptr, "cuda group_by_expert: experts is a null pointer");
  detail::GroupArgs a;
  a.experts = experts;
  a.pairs = static_cast<int>(groups.pairs());
  a.num_experts = static_cast<int>(groups.num_experts);
  a.count = groups.count;
  a.group_expert = groups.group_expert;
  a.group_start = groups.group_start;
  a.order = groups.order;
  check_cuda(detail::launch_group_by_expert(a, stream), "MoE group_by_expert launch");
}

DeviceExpertTable::DeviceExpertTable(const std::vector<WeightView>& experts) {
  FP4_CHECK(!experts.empty(), "cuda expert table: no experts given");
  const WeightView& first = experts.front();
  encoding_ = first.encoding;
  rows_ = first.rows;
  cols_ = first.cols;
  experts_ = static_cast<int64_t>(experts.size());
  FP4_CHECK(encoding_ == WeightEncoding::kNVFP4,
            "cuda expert table: the grouped expert matmul reads NVFP4 experts; encoding {} is not supported (run "
            "those experts with cuda::matmul one by one)",
            encoding_name(encoding_));
  FP4_CHECK(rows_ >= 1 && rows_ <= kMaxInt / 2 && cols_ >= 32 && cols_ <= kMaxInt && cols_ % 32 == 0,
            "cuda expert table: expert weight [{}, {}] needs 1 ≤ N < 2^30 and K a positive multiple of 32", rows_,
            cols_);
  std::vector<detail::ExpertWeightDesc> table(experts.size());
  for (size_t e = 0; e < experts.size(); ++e) {
    const WeightView& w = experts[e];
    FP4_CHECK(w.encoding == encoding_ && w.rows == rows_ && w.cols == cols_,
              "cuda expert table: expert {} is {} [{}, {}], expert 0 is {} [{}, {}]", e, encoding_name(w.encoding),
              w.rows, w.cols, encoding_name(encoding_), rows_, cols_);
    FP4_CHECK(w.data != nullptr && w.block_scale != nullptr, "cuda expert table: expert {} has no data or scales", e);
    FP4_CHECK(aligned(w.data, 16) && aligned(w.block_scale, 2),
              "cuda expert table: expert {}'s codes must be 16-byte and its scales 2-byte aligned", e);
    table[e].data = static_cast<const uint8_t*>(w.data);
    table[e].scales = w.block_scale;
    table[e].global_scale = w.global_scale;
  }
  const size_t bytes = table.size() * sizeof(detail::ExpertWeightDesc);
  check_cuda(cudaMalloc(&table_, bytes), "cuda expert table (cudaMalloc)");
  const cudaError_t err = cudaMemcpy(table_, table.data(), bytes, cudaMemcpyHostToDevice);
  if (err != cudaSuccess) {
    cudaFree(table_);
    table_ = nullptr;
    check_cuda(err, "cuda expert table (upload)");
  }
}

DeviceExpertTable::~DeviceExpertTable() {
  if (table_ != nullptr) cudaFree(table_);
}

DeviceExpertTable::DeviceExpertTable(DeviceExpertTable&& other) noexcept
    : encoding_(other.encoding_), rows_(other.rows_), cols_(other.cols_), experts_(other.experts_),
      table_(std::exchange(other.table_, nullptr)) {}

DeviceExpertTable& DeviceExpertTable::operator=(DeviceExpertTable&& other) noexcept {
  if (this != &other) {
    if (table_ != nullptr) cudaFree(table_);
    encoding_ = other.encoding_;
    rows_ = other.rows_;
    cols_ = other.cols_;
    experts_ = other.experts_;
    table_ = std::exchange(other.table_, nullptr);
  }
  return *this;
}

void grouped_expert_matmul(const DeviceExpertTable& w, const DeviceExpertTable* second, const ExpertGroups& groups,
                           ExpertInput input, const float* x, int64_t x_stride, float* y, int64_t y_stride,
                           cudaStream_t stream) {
  check_groups(groups, "grouped_expert_matmul");
  FP4_CHECK(w.device_table() != nullptr, "cuda grouped_expert_matmul: the expert table is empty (moved from)");
  FP4_CHECK(w.experts() >= groups.num_experts,
            "cuda grouped_expert_matmul: the table has {} experts, the grouping routes over {}", w.experts(),
            groups.num_experts);
  if (second != nullptr) {
    FP4_CHECK(second->device_table() != nullptr && second->rows() == w.rows() && second->cols() == w.cols() &&
                  second->experts() == w.experts(),
              "cuda grouped_expert_matmul: the second table ({} experts of [{}, {}]) does not match the first ({} of "
              "[{}, {}])",
              second->experts(), second->rows(), second->cols(), w.experts(), w.rows(), w.cols());
  }
  const int64_t N = w.rows();
  const int64_t K = w.cols();
  const int64_t width = second != nullptr ? 2 * N : N;
  FP4_CHECK(x_stride >= K && x_stride % 4 == 0,
            "cuda grouped_expert_matmul: x_stride = {} must be ≥ K = {} and a multiple of 4 floats", x_stride, K);
  FP4_CHECK(y_stride >= width, "cuda grouped_expert_matmul: y_stride = {} must be ≥ {} output columns", y_stride, width);
  // Work items (group, table, block of 16 rows) are counted in int32 on the device.
  const int64_t row_blocks = (N + 15) / 16;
  FP4_CHECK(groups.max_groups() * row_blocks * (second != nullptr ? 2 : 1) <= kMaxInt,
            "cuda grouped_expert_matmul: {} groups × {} rows is too much work for one launch", groups.max_groups(), width);
  if (groups.pairs() == 0) return;
  FP4_CHECK(x != nullptr && y != nullptr, "cuda grouped_expert_matmul: x or y is a null pointer");
  FP4_CHECK(aligned(x, 16), "cuda grouped_expert_matmul: x must be 16-byte aligned (float4 loads)");

  detail::GroupedGemvArgs a;
  a.tables[0] = static_cast<const detail::ExpertWeightDesc*>(w.device_table());
  a.tables[1] = second != nullptr ? static_cast<const detail::ExpertWeightDesc*>(second->device_table()) : nullptr;
  a.num_tables = second != nullptr ? 2 : 1;
  a.N = static_cast<int>(N);
  a.K = static_cast<int>(K);
  a.x = x;
  a.x_stride = x_stride;
  a.x_row_divisor = input == ExpertInput::kTokenRows ? static_cast<int>(groups.top_k) : 1;
  a.y = y;
  a.y_stride = y_stride;
  a.count = groups.count;
  a.group_expert = groups.group_expert;
  a.group_start = groups.group_start;
  a.order = groups.order;
  a.max_groups = static_cast<int>(groups.max_groups());
  // A token chooses an expert at most once, so no group holds more than T pairs.
  a.max_tokens_per_expert = static_cast<int>(std::min<int64_t>(groups.tokens, groups.pairs()));
  check_cuda(detail::launch_grouped_nvfp4_gemv(a, sm_count(), stream), "grouped NVFP4 expert GEMV launch");
}

void moe_combine(const float* src, int64_t src_stride, const float* weights, int64_t tokens, int64_t top_k, int64_t n,
                 const float* shared, int64_t shared_stride, float* y, int64_t y_stride, cudaStream_t stream) {
  FP4_CHECK(tokens >= 0 && tokens <= kMaxInt && top_k >= 1 && n >= 0 && n <= kMaxInt,
            "cuda moe_combine: tokens = {}, top_k = {}, n = {} out of range", tokens, top_k, n);
  FP4_CHECK(src_stride >= n && y_stride >= n && (shared == nullptr || shared_stride >= n),
            "cuda moe_combine: strides (src {}, shared {}, y {}) must be at least n = {}", src_stride, shared_stride,
            y_stride, n);
  if (tokens == 0 || n == 0) return;
  FP4_CHECK(src != nullptr && weights != nullptr && y != nullptr, "cuda moe_combine: src, weights or y is a null pointer");
  check_cuda(detail::launch_moe_combine(src, src_stride, weights, static_cast<int>(tokens), static_cast<int>(top_k),
                                        static_cast<int>(n), shared, shared_stride, y, y_stride, stream),
             "MoE combine launch");
}

}  // namespace fp4::cuda
