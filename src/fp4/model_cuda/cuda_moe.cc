#include "fp4/model_cuda/cuda_moe.h"

#include <algorithm>
#include <numeric>

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/model_ops.h"
#include "fp4/base/error.h"

namespace fp4::model_cuda {

int64_t DeviceMoe::widest() const {
  int64_t w = shared ? shared->intermediate() : 0;
  for (const DeviceMlp& e : experts) w = std::max(w, e.intermediate());
  return w;
}

DeviceMoe upload_moe(DeviceArena& arena, const model::MoeWeights& w) {
  DeviceMoe d;
  model::Linear router_f32;
  router_f32.name = w.router.name;
  const std::vector<float> exact = model::decode_weight(w.router.w);  // [E, hidden], exact
  router_f32.w.encoding = WeightEncoding::kF32;
  router_f32.w.rows = w.router.w.rows;
  router_f32.w.cols = w.router.w.cols;
  router_f32.w.data = exact.data();
  d.router = upload_linear(arena, router_f32);
  d.correction_bias = w.correction_bias;
  d.experts.reserve(w.experts.size());
  for (const model::GatedMlp& e : w.experts) d.experts.push_back(upload_mlp(arena, e));
  if (w.shared) d.shared = upload_mlp(arena, *w.shared);
  return d;
}

void moe_forward_cuda(const io::MoeConfig& moe, const DeviceMoe& w, const float* x, int64_t T, int64_t layer,
                      std::vector<model::RoutingRecord>* routing, float* y, cudaStream_t st) {
  const int64_t E = moe.n_routed_experts;
  const int64_t H = w.router.in_features();

  // Router logits [T, E] on the device, routed on the host exactly as the CPU model routes.
  std::vector<float> logits(static_cast<size_t>(T * E));
  {
    StreamArray<float> dev(T * E, st);
    w.router.apply(x, T, dev.get(), st);
    download(dev.get(), logits.size() * sizeof(float), logits.data(), st);
  }
  const model::Routing r = model::route_from_logits(moe, w.correction_bias, logits.data(), T);
  const int64_t k = r.top_k;

  // Group (token, slot) pairs by expert with a counting sort (each expert's tokens in token order), as
  // model/moe.cc does.
  std::vector<int64_t> start(static_cast<size_t>(E + 1), 0);
  for (int64_t i = 0; i < T * k; ++i) start[static_cast<size_t>(r.experts[static_cast<size_t>(i)]) + 1] += 1;
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int32_t> token(static_cast<size_t>(T * k));  // grouped by expert: the token of each pair
  std::vector<float> weight(static_cast<size_t>(T * k));   // and its routing weight
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t i = 0; i < T * k; ++i) {
      const auto e = static_cast<size_t>(r.experts[static_cast<size_t>(i)]);
      const int64_t at = fill[e]++;
      token[static_cast<size_t>(at)] = static_cast<int32_t>(i / k);
      weight[static_cast<size_t>(at)] = r.weights[static_cast<size_t>(i)];
    }
  }
  int64_t most = w.shared ? T : 0;  // rows of the largest work item
  for (int64_t e = 0; e < E; ++e) most = std::max(most, start[static_cast<size_t>(e) + 1] - start[static_cast<size_t>(e)]);

  const StreamArray<int32_t> dev_token = to_device<int32_t>(token, st);
  const StreamArray<float> dev_weight = to_device<float>(weight, st);
  StreamArray<float> xe(most * H, st);                   // [n, H] one expert's gathered tokens
  StreamArray<float> ye(most * H, st);                   // [n, H] its output
  StreamArray<float> scratch(2 * most * w.widest(), st); // gate and up [2, n, I]

  // y = Σ over experts in ascending id (HF's index_add_ order) of weight · expert(x), then + shared(x).
  // Within one expert the tokens are distinct, as scatter_add_rows needs.
  cuda::check_cuda(cudaMemsetAsync(y, 0, static_cast<size_t>(T * H) * sizeof(float), st), "MoE output memset");
  for (int64_t e = 0; e < E; ++e) {
    const int64_t begin = start[static_cast<size_t>(e)];
    const int64_t n = start[static_cast<size_t>(e) + 1] - begin;
    if (n == 0) continue;
    cuda::gather_rows(x, H, dev_token.get() + begin, n, H, xe.get(), H, st);
    w.experts[static_cast<size_t>(e)].apply(xe.get(), n, ye.get(), scratch.get(), st);
    cuda::scatter_add_rows(ye.get(), H, dev_token.get() + begin, dev_weight.get() + begin, n, H, y, H, st);
  }
  if (w.shared) {
    w.shared->apply(x, T, ye.get(), scratch.get(), st);
    cuda::add_rows(y, H, ye.get(), H, T, H, st);
  }
  if (routing != nullptr) routing->push_back(model::RoutingRecord{layer, T, k, r.experts, r.weights});
}

}  // namespace fp4::model_cuda
