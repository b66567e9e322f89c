// GPU op tests of moe_ops.h: device routing against model/moe.cc's routing semantics, the grouping of
// (token, slot) pairs by expert against the CPU's counting sort, the grouped NVFP4 expert matmul against
// cpu::matmul_reference per pair, the combine bit for bit, and the whole chain captured in a CUDA graph.
//
// Routing is checked three ways, because the GPU's exp and the CPU's differ by an ulp or two:
//   1. the GPU's scores against the scalar reference scores (double, rounded once) within a derived bound;
//   2. the CPU's decision computed FROM THE GPU'S SCORES (route_from_logits's steps after scoring, on the
//      CPU backend's topk) equals the GPU's decision bit for bit, ids and weights, ties included;
//   3. end to end: the CPU's decision from its own scores equals the GPU's, on logits whose decisive
//      comparisons are either exact ties (identical inputs) or separated by far more than the bound of 1
//      (tokens are drawn until they are; ties are forced by copying inputs between experts and groups).
// The test binary does not link the model library, so route_from_logits's steps are restated here
// (cpu_route_from_scores) on the same CPU ops (reference topk: same results as cpu::topk by contract).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/backends/cuda/moe_ops.h"
#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/ops/activation.h"
#include "fp4/ops/matmul.h"
#include "fp4/ops/softmax.h"
#include "fp4/ops/topk.h"
#include "fp4/ops/weight.h"

namespace fp4::cuda_test {
namespace {

using fp4::cuda::RouterConfig;
using fp4::cuda::RouterScoring;
using fp4::cuda::RouterSelection;

// ---- CPU routing (model/moe.cc route_from_logits) ---------------------------------------------------------

struct Decision {
  std::vector<int32_t> experts;  // [T, k]
  std::vector<float> weights;    // [T, k]
};

bool noaux(const RouterConfig& c) { return c.selection == RouterSelection::kNoauxTc; }
bool grouped(const RouterConfig& c) { return c.n_group > 1 && c.selection != RouterSelection::kGreedy; }

// route_from_logits after its scoring loop, on scores [T, E].
Decision cpu_route_from_scores(const RouterConfig& c, const std::vector<float>& bias, const float* scores, int64_t T) {
  const int64_t E = c.num_experts;
  const int64_t k = c.top_k;
  const int64_t groups = c.n_group;
  const int64_t per_group = E / groups;
  constexpr float kExcluded = -std::numeric_limits<float>::infinity();
  Decision r;
  r.experts.resize(static_cast<size_t>(T * k));
  r.weights.resize(static_cast<size_t>(T * k));
  std::vector<float> choice(static_cast<size_t>(E));
  std::vector<float> group_score(static_cast<size_t>(groups));
  std::vector<int32_t> kept(static_cast<size_t>(std::max<int64_t>(c.topk_group, 2)));
  std::vector<float> top2(2);
  for (int64_t t = 0; t < T; ++t) {
    const float* s = scores + t * E;
    for (int64_t e = 0; e < E; ++e) choice[e] = noaux(c) ? s[e] + bias[e] : s[e];
    if (grouped(c)) {
      for (int64_t g = 0; g < groups; ++g) {
        const float* b = choice.data() + g * per_group;
        if (noaux(c)) {
          const int64_t n2 = std::min<int64_t>(2, per_group);
          fp4::cpu::reference::topk(b, per_group, n2, kept.data(), top2.data());
          group_score[g] = n2 == 2 ? top2[0] + top2[1] : top2[0];
        } else {
          group_score[g] = *std::max_element(b, b + per_group);
        }
      }
      fp4::cpu::reference::topk(group_score.data(), groups, c.topk_group, kept.data(), nullptr);
      std::vector<bool> keep(static_cast<size_t>(groups), false);
      for (int64_t i = 0; i < c.topk_group; ++i) keep[kept[i]] = true;
      for (int64_t g = 0; g < groups; ++g) {
        if (!keep[g]) std::fill_n(choice.data() + g * per_group, per_group, kExcluded);
      }
    }
    int32_t* idx = r.experts.data() + t * k;
    float* wt = r.weights.data() + t * k;
    fp4::cpu::reference::topk(choice.data(), E, k, idx, nullptr);
    std::sort(idx, idx + k);
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      wt[j] = s[idx[j]];
      sum += wt[j];
    }
    if (c.norm_topk_prob) {
      const float denom = sum + 1e-20f;
      for (int64_t j = 0; j < k; ++j) wt[j] /= denom;
    }
    for (int64_t j = 0; j < k; ++j) wt[j] *= c.routed_scaling_factor;
  }
  return r;
}

std::vector<float> reference_scores(const RouterConfig& c, const std::vector<float>& logits, int64_t T) {
  std::vector<float> s(logits.size());
  const int64_t E = c.num_experts;
  for (int64_t t = 0; t < T; ++t) {
    if (c.scoring == RouterScoring::kSigmoid) {
      fp4::cpu::reference::sigmoid(logits.data() + t * E, E, s.data() + t * E);
    } else {
      fp4::cpu::reference::softmax(logits.data() + t * E, 1, E, s.data() + t * E);
    }
  }
  return s;
}

// Relative bound on |GPU score − reference score| for expert e of one row (docs/cuda.md "MoE").
//   sigmoid: expf ≤ 2 ulp (≤ 4u relative); 1 + e, the reciprocal and e·inv one rounding each, the error of
//            e entering 1 + e damped by e/(1+e) ≤ 1/2: ≤ 9u; the reference rounds once (0.5u): 12u with slack.
//   softmax: exp(fl(z − max)) carries expf's 4u plus u·|z − max| from the rounded argument; the sum adds
//            (E − 1)u and the worst term's error; 1/Σ and the product one rounding each; reference 0.5u.
double score_bound_rel(const RouterConfig& c, float z, float row_max, double worst_gap) {
  if (c.scoring == RouterScoring::kSigmoid) return 12 * kU;
  const double gap = std::fabs(static_cast<double>(z) - row_max);
  return (static_cast<double>(c.num_experts) + 12.0 + gap + worst_gap) * kU;
}

// ---- Robust test logits -----------------------------------------------------------------------------------

// The routing decision in double from exact scores, and whether its decisive comparisons (the kept-group
// boundary and the top-k boundary) are exact ties of identical inputs or at least `gap` apart.
bool decision_is_robust(const RouterConfig& c, const float* z, const std::vector<float>& bias, double gap) {
  const int64_t E = c.num_experts;
  std::vector<double> s(static_cast<size_t>(E));
  if (c.scoring == RouterScoring::kSigmoid) {
    for (int64_t e = 0; e < E; ++e) s[e] = 1.0 / (1.0 + std::exp(-static_cast<double>(z[e])));
  } else {
    double m = -INFINITY, sum = 0;
    for (int64_t e = 0; e < E; ++e) m = std::max(m, static_cast<double>(z[e]));
    for (int64_t e = 0; e < E; ++e) sum += std::exp(z[e] - m);
    for (int64_t e = 0; e < E; ++e) s[e] = std::exp(z[e] - m) / sum;
  }
  // Identical inputs give identical values on both sides: such pairs are exact ties, not near-ties.
  auto key = [&](int64_t e) {
    return std::make_pair(z[e], noaux(c) ? bias[static_cast<size_t>(e)] : 0.0f);
  };
  std::vector<double> v(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e) v[e] = s[e] + (noaux(c) ? bias[static_cast<size_t>(e)] : 0.0);
  auto ordered = [&](const std::vector<double>& val, std::vector<int64_t> idx) {
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return val[a] > val[b]; });
    return idx;
  };
  std::vector<bool> excluded(static_cast<size_t>(E), false);
  if (grouped(c)) {
    const int64_t G = c.n_group;
    const int64_t per = E / G;
    std::vector<double> gv(static_cast<size_t>(G));
    std::vector<std::vector<std::pair<float, float>>> gkey(static_cast<size_t>(G));
    for (int64_t g = 0; g < G; ++g) {
      std::vector<int64_t> members(static_cast<size_t>(per));
      std::iota(members.begin(), members.end(), g * per);
      const std::vector<int64_t> o = ordered(v, members);
      const int64_t used = noaux(c) ? std::min<int64_t>(2, per) : 1;
      gv[g] = 0;
      for (int64_t i = 0; i < used; ++i) {
        gv[g] += v[o[i]];
        gkey[g].push_back(key(o[i]));
      }
      std::sort(gkey[g].begin(), gkey[g].end());
    }
    std::vector<int64_t> gi(static_cast<size_t>(G));
    std::iota(gi.begin(), gi.end(), 0);
    const std::vector<int64_t> go = ordered(gv, gi);
    if (c.topk_group < G) {
      const int64_t a = go[c.topk_group - 1], b = go[c.topk_group];
      if (gkey[a] != gkey[b] && std::fabs(gv[a] - gv[b]) < gap) return false;
    }
    for (int64_t i = c.topk_group; i < G; ++i) {
      for (int64_t e = go[i] * per; e < (go[i] + 1) * per; ++e) excluded[e] = true;
    }
  }
  std::vector<int64_t> live;
  for (int64_t e = 0; e < E; ++e) {
    if (!excluded[e]) live.push_back(e);
  }
  const std::vector<int64_t> o = ordered(v, live);
  if (c.top_k < static_cast<int64_t>(o.size())) {
    const int64_t a = o[c.top_k - 1], b = o[c.top_k];
    if (key(a) != key(b) && std::fabs(v[a] - v[b]) < gap) return false;
  }
  return true;
}

enum class LogitKind { kGrid, kContinuous, kSaturated };

// Bias [E] for noaux_tc: a coarse grid (many equal values), with group 3 a copy of group 0 so that whole
// groups can tie.
std::vector<float> make_bias(const RouterConfig& c, LogitKind kind, Rng& rng) {
  std::vector<float> b(static_cast<size_t>(c.num_experts), 0.0f);
  if (!noaux(c)) return b;
  for (auto& v : b) v = kind == LogitKind::kContinuous ? rng.uniform(-0.5f, 0.5f) : rng.uniform_int(-2, 2) * 0.125f;
  const int64_t per = c.num_experts / c.n_group;
  if (c.n_group >= 4) std::copy_n(b.begin(), per, b.begin() + 3 * per);
  return b;
}

// Logits [T, E]: ties forced by copying one expert's logit to others with the same bias, and (grouped
// configs) group 0's logits into group 3. Grid and continuous tokens are redrawn until decision_is_robust.
std::vector<float> make_logits(const RouterConfig& c, const std::vector<float>& bias, LogitKind kind, int64_t T,
                               Rng& rng) {
  const int64_t E = c.num_experts;
  const int64_t per = E / c.n_group;
  std::vector<float> z(static_cast<size_t>(T * E));
  for (int64_t t = 0; t < T; ++t) {
    float* row = z.data() + t * E;
    for (int attempt = 0;; ++attempt) {
      if (attempt == 1000) fp4::fail("test data: no robust routing row in 1000 draws (E = {})", E);
      for (int64_t e = 0; e < E; ++e) {
        switch (kind) {
          case LogitKind::kGrid: row[e] = rng.uniform_int(-64, 64) / 16.0f; break;
          case LogitKind::kContinuous: row[e] = rng.uniform(-4.0f, 4.0f); break;
          case LogitKind::kSaturated: {
            const int pick = rng.uniform_int(0, 3);  // σ rounds to exactly 1 above ~17: ties at 1.0
            row[e] = pick == 0 ? rng.uniform(20.0f, 40.0f) : pick == 1 ? -rng.uniform(20.0f, 90.0f) : rng.uniform(-2.0f, 2.0f);
            break;
          }
        }
      }
      const int copies = rng.uniform_int(0, 12);
      for (int i = 0; i < copies; ++i) {
        const int64_t from = rng.uniform_int(0, static_cast<int>(E) - 1);
        const int64_t to = rng.uniform_int(0, static_cast<int>(E) - 1);
        if (bias[static_cast<size_t>(from)] == bias[static_cast<size_t>(to)]) row[to] = row[from];
      }
      if (grouped(c) && c.n_group >= 4 && rng.uniform_int(0, 2) == 0) std::copy_n(row, per, row + 3 * per);
      if (kind == LogitKind::kSaturated || decision_is_robust(c, row, bias, 1e-4)) break;
    }
  }
  return z;
}

struct RouteCase {
  const char* name;
  RouterConfig config;
};

RouterConfig make_config(int64_t E, int64_t k, int64_t groups, int64_t topk_group, RouterScoring scoring,
                         RouterSelection selection, bool norm, float scale) {
  RouterConfig c;
  c.num_experts = E;
  c.top_k = k;
  c.n_group = groups;
  c.topk_group = topk_group;
  c.scoring = scoring;
  c.selection = selection;
  c.norm_topk_prob = norm;
  c.routed_scaling_factor = scale;
  return c;
}

int test_routing(bool quick, Rng& rng) {
  const RouteCase cases[] = {
      {"R1 256/8 groups 8 keep 4", make_config(256, 8, 8, 4, RouterScoring::kSigmoid, RouterSelection::kNoauxTc, true, 2.5f)},
      {"V2-Lite 64/6 greedy", make_config(64, 6, 1, 1, RouterScoring::kSoftmax, RouterSelection::kGreedy, false, 1.0f)},
      {"V2 160/6 groups 8 keep 3", make_config(160, 6, 8, 3, RouterScoring::kSoftmax, RouterSelection::kGroupLimitedGreedy, false, 16.0f)},
      {"noaux 1-member groups", make_config(16, 4, 16, 5, RouterScoring::kSigmoid, RouterSelection::kNoauxTc, true, 1.0f)},
      {"noaux 72/5 groups 4 keep 2", make_config(72, 5, 4, 2, RouterScoring::kSigmoid, RouterSelection::kNoauxTc, false, 1.5f)},
      {"softmax norm 37/3", make_config(37, 3, 1, 1, RouterScoring::kSoftmax, RouterSelection::kGreedy, true, 1.0f)},
      {"sigmoid greedy 256/8", make_config(256, 8, 8, 4, RouterScoring::kSigmoid, RouterSelection::kGreedy, true, 2.5f)},
  };
  const int64_t T = quick ? 8 : 96;
  Tally scores_tally, decision_tally, e2e_tally;
  for (const RouteCase& rc : cases) {
    const RouterConfig& c = rc.config;
    const int64_t E = c.num_experts;
    const int64_t k = c.top_k;
    for (const LogitKind kind : {LogitKind::kGrid, LogitKind::kContinuous, LogitKind::kSaturated}) {
      if (kind == LogitKind::kSaturated && c.scoring != RouterScoring::kSigmoid) continue;
      const std::string name = std::string(rc.name) +
                               (kind == LogitKind::kGrid ? " grid" : kind == LogitKind::kContinuous ? " continuous" : " saturated");
      const std::vector<float> bias = make_bias(c, kind, rng);
      const std::vector<float> logits = make_logits(c, bias, kind, T, rng);
      DeviceArray<float> d_logits(logits), d_bias(bias), d_scores(logits.size()), d_w(static_cast<size_t>(T * k));
      DeviceArray<int32_t> d_e(static_cast<size_t>(T * k));
      d_scores.poison();
      d_w.poison();
      cuda_ok(cudaMemset(d_e.get(), 0xFF, d_e.bytes()), "poison");
      fp4::cuda::route(c, d_logits.get(), d_bias.get(), T, d_e.get(), d_w.get(), nullptr, d_scores.get());
      const std::vector<float> gpu_scores = d_scores.download();
      const std::vector<int32_t> gpu_e = d_e.download();
      const std::vector<float> gpu_w = d_w.download();

      // 1. Scores within the derived bound.
      const std::vector<float> ref_scores = reference_scores(c, logits, T);
      std::vector<double> bound(ref_scores.size());
      std::vector<double> score_rel(ref_scores.size());
      for (int64_t t = 0; t < T; ++t) {
        const float* row = logits.data() + t * E;
        const float m = *std::max_element(row, row + E);
        double worst = 0;
        for (int64_t e = 0; e < E; ++e) worst = std::max(worst, std::fabs(static_cast<double>(row[e]) - m));
        for (int64_t e = 0; e < E; ++e) {
          const size_t i = static_cast<size_t>(t * E + e);
          score_rel[i] = score_bound_rel(c, row[e], m, worst);
          bound[i] = score_rel[i] * std::fabs(ref_scores[i]) + kFloor;
        }
      }
      compare(name + " scores", gpu_scores, ref_scores, bound, scores_tally);

      // 2. The CPU's decision from the GPU's scores: bit for bit.
      const Decision from_gpu = cpu_route_from_scores(c, bias, gpu_scores.data(), T);
      ++decision_tally.cases;
      int bad = 0;
      for (size_t i = 0; i < gpu_e.size(); ++i) {
        const bool same = gpu_e[i] == from_gpu.experts[i] &&
                          std::memcmp(&gpu_w[i], &from_gpu.weights[i], sizeof(float)) == 0;
        if (!same && bad++ < 5) {
          std::printf("  FAIL %s decision: token %zu slot %zu: gpu (%d, %.9g) cpu-on-gpu-scores (%d, %.9g)\n",
                      name.c_str(), i / k, i % k, gpu_e[i], gpu_w[i], from_gpu.experts[i], from_gpu.weights[i]);
        }
      }
      if (bad > 0) ++decision_tally.failed;

      // 3. End to end on robust logits: same experts; weights within the score bound carried through.
      if (kind == LogitKind::kSaturated) continue;
      const Decision cpu = cpu_route_from_scores(c, bias, ref_scores.data(), T);
      ++e2e_tally.cases;
      int mismatched = 0;
      std::vector<float> w_ref(cpu.weights.size());
      std::vector<double> w_bound(cpu.weights.size());
      for (int64_t t = 0; t < T; ++t) {
        double worst_rel = 0;
        for (int64_t j = 0; j < k; ++j) {
          const size_t i = static_cast<size_t>(t * k + j);
          if (gpu_e[i] != cpu.experts[i]) {
            if (mismatched++ < 5) {
              std::printf("  FAIL %s end to end: token %lld slot %lld: gpu expert %d, cpu %d\n", name.c_str(),
                          static_cast<long long>(t), static_cast<long long>(j), gpu_e[i], cpu.experts[i]);
            }
          }
          worst_rel = std::max(worst_rel, score_rel[static_cast<size_t>(t * E + cpu.experts[i])]);
        }
        // w = s·scale, or s/Σs·scale: the score's error, plus the sum's (≤ the worst term's) under
        // normalisation, plus each side's roundings: k − 1 sums, the division, the scaling.
        for (int64_t j = 0; j < k; ++j) {
          const size_t i = static_cast<size_t>(t * k + j);
          const double own = score_rel[static_cast<size_t>(t * E + cpu.experts[i])];
          const double rel = c.norm_topk_prob ? own + worst_rel + 2.0 * (k + 2) * kU : own + 2 * kU;
          w_ref[i] = cpu.weights[i];
          w_bound[i] = rel * std::fabs(cpu.weights[i]) + kFloor;
        }
      }
      if (mismatched > 0) {
        ++e2e_tally.failed;
      } else {
        --e2e_tally.cases;  // compare() counts the case
        compare(name + " end-to-end weights", gpu_w, w_ref, w_bound, e2e_tally);
      }
    }
  }
  report("moe route: scores", scores_tally);
  report("moe route: decision (exact)", decision_tally);
  report("moe route: end to end", e2e_tally);
  return scores_tally.failed + decision_tally.failed + e2e_tally.failed;
}

// ---- Grouping --------------------------------------------------------------------------------------------------

int test_grouping(bool quick, Rng& rng) {
  Tally tally;
  struct Shape {
    int64_t T, k, E;
    bool concentrated;  // every token picks from the same few experts
  };
  const Shape shapes[] = {{1, 8, 256, false}, {8, 8, 256, false}, {8, 8, 256, true}, {64, 6, 64, false},
                          {3, 1, 5, false},   {512, 8, 256, false}, {17, 4, 1024, true}};
  for (const Shape& sh : shapes) {
    if (quick && sh.T > 64) continue;
    const int64_t P = sh.T * sh.k;
    std::vector<int32_t> experts(static_cast<size_t>(P));
    for (int64_t t = 0; t < sh.T; ++t) {
      std::vector<int32_t> pool(static_cast<size_t>(sh.E));
      std::iota(pool.begin(), pool.end(), 0);
      const int64_t span = sh.concentrated ? std::max<int64_t>(sh.k + 1, 10) : sh.E;
      for (int64_t j = 0; j < sh.k; ++j) {  // distinct experts per token
        const int64_t pick = rng.uniform_int(static_cast<int>(j), static_cast<int>(span - 1));
        std::swap(pool[j], pool[pick]);
        experts[static_cast<size_t>(t * sh.k + j)] = pool[j];
      }
      std::sort(experts.begin() + t * sh.k, experts.begin() + (t + 1) * sh.k);
    }
    // The CPU's counting sort (model/moe.cc).
    std::vector<int64_t> start(static_cast<size_t>(sh.E + 1), 0);
    for (int64_t i = 0; i < P; ++i) start[experts[i] + 1] += 1;
    std::partial_sum(start.begin(), start.end(), start.begin());
    std::vector<int32_t> order(static_cast<size_t>(P));
    {
      std::vector<int64_t> fill(start.begin(), start.end() - 1);
      for (int64_t i = 0; i < P; ++i) order[fill[experts[i]]++] = static_cast<int32_t>(i);
    }
    std::vector<int32_t> g_expert, g_start;
    for (int64_t e = 0; e < sh.E; ++e) {
      if (start[e + 1] > start[e]) {
        g_expert.push_back(static_cast<int32_t>(e));
        g_start.push_back(static_cast<int32_t>(start[e]));
      }
    }
    g_start.push_back(static_cast<int32_t>(P));

    DeviceArray<uint8_t> ws(fp4::cuda::expert_groups_bytes(sh.T, sh.k, sh.E));
    cuda_ok(cudaMemset(ws.get(), 0xFF, ws.bytes()), "poison");
    const fp4::cuda::ExpertGroups groups = fp4::cuda::expert_groups_in(ws.get(), sh.T, sh.k, sh.E);
    DeviceArray<int32_t> d_experts(experts);
    fp4::cuda::group_by_expert(d_experts.get(), groups, nullptr);
    cuda_ok(cudaDeviceSynchronize(), "group_by_expert");
    int32_t count = 0;
    cuda_ok(cudaMemcpy(&count, groups.count, sizeof count, cudaMemcpyDeviceToHost), "download");
    std::vector<int32_t> got_expert(static_cast<size_t>(std::max(count, 0)));
    std::vector<int32_t> got_start(got_expert.size() + 1), got_order(static_cast<size_t>(P));
    bool ok = count == static_cast<int32_t>(g_expert.size());
    if (ok) {
      cuda_ok(cudaMemcpy(got_expert.data(), groups.group_expert, got_expert.size() * 4, cudaMemcpyDeviceToHost), "download");
      cuda_ok(cudaMemcpy(got_start.data(), groups.group_start, got_start.size() * 4, cudaMemcpyDeviceToHost), "download");
      cuda_ok(cudaMemcpy(got_order.data(), groups.order, got_order.size() * 4, cudaMemcpyDeviceToHost), "download");
      ok = got_expert == g_expert && got_start == g_start && got_order == order;
    }
    ++tally.cases;
    if (!ok) {
      ++tally.failed;
      std::printf("  FAIL group_by_expert T=%lld k=%lld E=%lld: %d groups (want %zu) or order differs\n",
                  static_cast<long long>(sh.T), static_cast<long long>(sh.k), static_cast<long long>(sh.E), count,
                  g_expert.size());
    }
  }
  report("moe group_by_expert (exact)", tally);
  return tally.failed;
}

// ---- Grouped expert matmul -------------------------------------------------------------------------------------

struct HostExpert {
  std::vector<uint8_t> codes;   // [N, K/2]
  std::vector<uint8_t> scales;  // [N, K/16]
  float global_scale = 1.0f;
  std::vector<double> abs_w;    // [N, K] |W|
};

struct ExpertSet {
  int64_t N = 0, K = 0;
  std::vector<HostExpert> host;
  std::vector<DeviceArray<uint8_t>*> device;  // codes, scales per expert
  std::vector<WeightView> host_views, device_views;
  ~ExpertSet() {
    for (auto* d : device) delete d;
  }
};

void make_experts(ExpertSet& s, int64_t count, int64_t N, int64_t K, Rng& rng) {
  s.N = N;
  s.K = K;
  s.host.resize(static_cast<size_t>(count));
  for (HostExpert& h : s.host) {
    h.codes.resize(static_cast<size_t>(N * K / 2));
    h.scales.resize(static_cast<size_t>(N * K / 16));
    for (auto& b : h.codes) b = rng.byte();
    for (auto& b : h.scales) b = rng.uniform_int(0, 31) == 0 ? 0 : static_cast<uint8_t>(rng.uniform_int(0x08, 0x68));
    h.global_scale = rng.uniform(0.5f, 2.0f) * 0x1p-6f;
    h.abs_w.resize(static_cast<size_t>(N * K));
    for (int64_t i = 0; i < N * K; ++i) {
      const uint8_t packed = h.codes[static_cast<size_t>(i / 2)];
      const uint8_t code = i % 2 == 0 ? fp4::e2m1_even_code(packed) : fp4::e2m1_odd_code(packed);
      h.abs_w[static_cast<size_t>(i)] = std::fabs(static_cast<double>(fp4::e2m1_to_f32(code)) *
                                                  fp4::ue4m3_to_f32(h.scales[static_cast<size_t>(i / 16)]) * h.global_scale);
    }
    WeightView w;
    w.encoding = WeightEncoding::kNVFP4;
    w.rows = N;
    w.cols = K;
    w.global_scale = h.global_scale;
    w.data = h.codes.data();
    w.block_scale = h.scales.data();
    s.host_views.push_back(w);
    auto* dc = new DeviceArray<uint8_t>(h.codes);
    auto* ds = new DeviceArray<uint8_t>(h.scales);
    s.device.push_back(dc);
    s.device.push_back(ds);
    w.data = dc->get();
    w.block_scale = ds->get();
    s.device_views.push_back(w);
  }
}

// Distinct experts per token, ascending; `span` limits the ids to [0, span) (concentrated routing).
std::vector<int32_t> random_routing(int64_t T, int64_t k, int64_t E, int64_t span, Rng& rng) {
  std::vector<int32_t> experts(static_cast<size_t>(T * k));
  for (int64_t t = 0; t < T; ++t) {
    std::vector<int32_t> pool(static_cast<size_t>(E));
    std::iota(pool.begin(), pool.end(), 0);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t pick = rng.uniform_int(static_cast<int>(j), static_cast<int>(span - 1));
      std::swap(pool[j], pool[pick]);
      experts[static_cast<size_t>(t * k + j)] = pool[j];
    }
    std::sort(experts.begin() + t * k, experts.begin() + (t + 1) * k);
  }
  return experts;
}

// Checks y [P, y_stride] columns [col0, col0 + N) against expert(p)'s reference on x_row(p), with the NVFP4
// GEMV's bound: γ_d·Σ|x·w| + u·|y|, d = K/16 + 31 (docs/cuda.md).
void check_pairs(const std::string& name, const ExpertSet& s, const std::vector<int32_t>& experts, int64_t k,
                 const std::vector<float>& x, int64_t x_stride, bool token_rows, const std::vector<float>& y,
                 int64_t y_stride, int64_t col0, Tally& tally) {
  const int64_t P = static_cast<int64_t>(experts.size());
  const int64_t N = s.N, K = s.K;
  std::vector<float> got, ref;
  std::vector<double> bound;
  const double rel = gamma_d(K / 16.0 + 31.0, kU);
  std::vector<float> row(static_cast<size_t>(N));
  for (int64_t p = 0; p < P; ++p) {
    const HostExpert& h = s.host[static_cast<size_t>(experts[p])];
    const float* xr = x.data() + (token_rows ? p / k : p) * x_stride;
    fp4::cpu::matmul_reference(s.host_views[static_cast<size_t>(experts[p])], xr, 1, row.data());
    for (int64_t n = 0; n < N; ++n) {
      double mag = 0;
      for (int64_t kk = 0; kk < K; ++kk) mag += std::fabs(static_cast<double>(xr[kk])) * h.abs_w[static_cast<size_t>(n * K + kk)];
      got.push_back(y[static_cast<size_t>(p * y_stride + col0 + n)]);
      ref.push_back(row[static_cast<size_t>(n)]);
      bound.push_back(rel * mag + kU * std::fabs(row[static_cast<size_t>(n)]) + kFloor);
    }
  }
  compare(name, got, ref, bound, tally);
}

int test_grouped_matmul(bool quick, Rng& rng) {
  Tally tally;
  struct Shape {
    int64_t experts, T, k, span, N, K;  // gate/up [N, K]; down [K, N]
  };
  // Down projections [K, N] run where N (their K) is a multiple of 32; the others test ragged row counts.
  std::vector<Shape> shapes = {
      {16, 1, 8, 16, 64, 96},     // decode: 8 groups of one token (M = 1 kernel)
      {16, 2, 4, 6, 32, 64},      // M = 2
      {12, 4, 3, 5, 33, 32},      // M = 4, N not a multiple of 16, one chunk per row
      {16, 8, 8, 8, 96, 160},     // 8 tokens all on the same 8 experts: full M = 8 passes
      {16, 8, 8, 16, 40, 160},    // 8 tokens, mixed group sizes, ragged N
      {10, 13, 4, 6, 32, 64},     // groups of more than 8 pairs: several passes over the same rows
      {64, 5, 6, 64, 64, 1408},   // V2-Lite's moe_intermediate as K of gate/up
  };
  if (!quick) shapes.push_back({8, 1, 8, 8, 2048, 7168});  // R1 expert gate/up [2048, 7168], down [7168, 2048]
  for (const Shape& sh : shapes) {
    ExpertSet gate, up, down;
    make_experts(gate, sh.experts, sh.N, sh.K, rng);
    make_experts(up, sh.experts, sh.N, sh.K, rng);
    const bool with_down = sh.N % 32 == 0;
    if (with_down) make_experts(down, sh.experts, sh.K, sh.N, rng);  // down: [K, N] consumes the N-wide intermediate
    const fp4::cuda::DeviceExpertTable gate_t(gate.device_views), up_t(up.device_views);
    const std::vector<int32_t> experts = random_routing(sh.T, sh.k, sh.experts, sh.span, rng);
    const int64_t P = sh.T * sh.k;

    const int64_t x_stride = sh.K + 4;  // padded rows
    std::vector<float> x(static_cast<size_t>(sh.T * x_stride));
    for (auto& v : x) v = rng.uniform(-2.0f, 2.0f);
    const int64_t act_stride = sh.N + (sh.N % 4 == 0 ? 0 : 4 - sh.N % 4);  // 16-byte aligned rows
    std::vector<float> act(static_cast<size_t>(P * act_stride));
    for (auto& v : act) v = rng.uniform(-2.0f, 2.0f);

    DeviceArray<uint8_t> ws(fp4::cuda::expert_groups_bytes(sh.T, sh.k, sh.experts));
    const fp4::cuda::ExpertGroups groups = fp4::cuda::expert_groups_in(ws.get(), sh.T, sh.k, sh.experts);
    DeviceArray<int32_t> d_experts(experts);
    DeviceArray<float> d_x(x), d_act(act);
    const int64_t gu_stride = 2 * sh.N + 3;
    DeviceArray<float> d_gu(static_cast<size_t>(P * gu_stride)), d_down(static_cast<size_t>(P * sh.K));
    d_gu.poison();
    d_down.poison();
    fp4::cuda::group_by_expert(d_experts.get(), groups, nullptr);
    fp4::cuda::grouped_expert_matmul(gate_t, &up_t, groups, fp4::cuda::ExpertInput::kTokenRows, d_x.get(), x_stride,
                                     d_gu.get(), gu_stride, nullptr);
    const std::vector<float> gu = d_gu.download();
    std::vector<float> dn;
    if (with_down) {
      const fp4::cuda::DeviceExpertTable down_t(down.device_views);
      fp4::cuda::grouped_expert_matmul(down_t, nullptr, groups, fp4::cuda::ExpertInput::kPairRows, d_act.get(),
                                       act_stride, d_down.get(), sh.K, nullptr);
      dn = d_down.download();
    }
    char label[160];
    std::snprintf(label, sizeof label, "grouped E=%lld T=%lld k=%lld span=%lld N=%lld K=%lld",
                  static_cast<long long>(sh.experts), static_cast<long long>(sh.T), static_cast<long long>(sh.k),
                  static_cast<long long>(sh.span), static_cast<long long>(sh.N), static_cast<long long>(sh.K));
    check_pairs(std::string(label) + " gate", gate, experts, sh.k, x, x_stride, true, gu, gu_stride, 0, tally);
    check_pairs(std::string(label) + " up", up, experts, sh.k, x, x_stride, true, gu, gu_stride, sh.N, tally);
    if (with_down) check_pairs(std::string(label) + " down", down, experts, sh.k, act, act_stride, false, dn, sh.K, 0, tally);
  }
  report("moe grouped NVFP4 matmul", tally);
  return tally.failed;
}

// ---- Combine and the captured chain ------------------------------------------------------------------------------

int test_combine_and_chain(bool quick, Rng& rng) {
  Tally tally;
  // Combine, bit for bit against model/moe.cc's `y += weight · out` over ascending experts, then + shared.
  for (const bool with_shared : {false, true}) {
    const int64_t T = 5, k = 6, n = 300, src_stride = 301, y_stride = 303;
    std::vector<float> src(static_cast<size_t>(T * k * src_stride)), w(static_cast<size_t>(T * k)),
        shared(static_cast<size_t>(T * n));
    for (auto& v : src) v = rng.uniform(-3.0f, 3.0f);
    for (auto& v : w) v = rng.uniform(0.0f, 1.0f);
    for (auto& v : shared) v = rng.uniform(-3.0f, 3.0f);
    std::vector<float> ref(static_cast<size_t>(T * y_stride), 0.0f);
    for (int64_t t = 0; t < T; ++t) {
      float* dst = ref.data() + t * y_stride;
      std::fill_n(dst, n, 0.0f);
      for (int64_t j = 0; j < k; ++j) {
        const float* s = src.data() + (t * k + j) * src_stride;
        const float weight = w[static_cast<size_t>(t * k + j)];
        for (int64_t c = 0; c < n; ++c) dst[c] += s[c] * weight;
      }
      if (with_shared) {
        for (int64_t c = 0; c < n; ++c) dst[c] += shared[static_cast<size_t>(t * n + c)];
      }
    }
    DeviceArray<float> d_src(src), d_w(w), d_shared(shared), d_y(ref.size());
    d_y.poison();
    fp4::cuda::moe_combine(d_src.get(), src_stride, d_w.get(), T, k, n, with_shared ? d_shared.get() : nullptr, n,
                           d_y.get(), y_stride, nullptr);
    std::vector<float> got = d_y.download();
    // Columns past n must keep the poison; compare the n written ones exactly.
    std::vector<float> g, r;
    bool pad_ok = true;
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t c = 0; c < y_stride; ++c) {
        const float v = got[static_cast<size_t>(t * y_stride + c)];
        if (c < n) {
          g.push_back(v);
          r.push_back(ref[static_cast<size_t>(t * y_stride + c)]);
        } else if (!std::isnan(v)) {
          pad_ok = false;
        }
      }
    }
    compare(with_shared ? "combine + shared" : "combine", g, r, std::vector<double>(g.size(), 0.0), tally);
    if (!pad_ok) {
      ++tally.failed;
      std::printf("  FAIL combine wrote past n\n");
    }
  }

  // The whole layer's device part captured in a CUDA graph, replayed: equal to the direct run bit for bit
  // (nothing in it reads a device value on the host, or capture would fail).
  {
    const RouterConfig c = make_config(64, 6, 1, 1, RouterScoring::kSoftmax, RouterSelection::kGreedy, false, 1.0f);
    const int64_t T = quick ? 2 : 4, E = c.num_experts, k = c.top_k, H = 128, I = 64;
    ExpertSet gate, up, down;
    make_experts(gate, E, I, H, rng);
    make_experts(up, E, I, H, rng);
    make_experts(down, E, H, I, rng);
    const fp4::cuda::DeviceExpertTable gate_t(gate.device_views), up_t(up.device_views), down_t(down.device_views);
    std::vector<float> x(static_cast<size_t>(T * H)), logits(static_cast<size_t>(T * E));
    for (auto& v : x) v = rng.uniform(-1.0f, 1.0f);
    for (auto& v : logits) v = rng.uniform(-3.0f, 3.0f);
    DeviceArray<float> d_x(x), d_logits(logits), d_w(static_cast<size_t>(T * k));
    DeviceArray<int32_t> d_e(static_cast<size_t>(T * k));
    DeviceArray<uint8_t> ws(fp4::cuda::expert_groups_bytes(T, k, E));
    const fp4::cuda::ExpertGroups groups = fp4::cuda::expert_groups_in(ws.get(), T, k, E);
    DeviceArray<float> d_gu(static_cast<size_t>(T * k * 2 * I)), d_act(static_cast<size_t>(T * k * I)),
        d_out(static_cast<size_t>(T * k * H)), d_y(static_cast<size_t>(T * H));
    cudaStream_t stream = nullptr;
    cuda_ok(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream");
    auto layer = [&] {
      fp4::cuda::route(c, d_logits.get(), nullptr, T, d_e.get(), d_w.get(), stream);
      fp4::cuda::group_by_expert(d_e.get(), groups, stream);
      fp4::cuda::grouped_expert_matmul(gate_t, &up_t, groups, fp4::cuda::ExpertInput::kTokenRows, d_x.get(), H,
                                       d_gu.get(), 2 * I, stream);
      fp4::cuda::silu_mul_rows(d_gu.get(), 2 * I, d_gu.get() + I, 2 * I, T * k, I, d_act.get(), I, stream);
      fp4::cuda::grouped_expert_matmul(down_t, nullptr, groups, fp4::cuda::ExpertInput::kPairRows, d_act.get(), I,
                                       d_out.get(), H, stream);
      fp4::cuda::moe_combine(d_out.get(), H, d_w.get(), T, k, H, nullptr, H, d_y.get(), H, stream);
    };
    layer();
    cuda_ok(cudaStreamSynchronize(stream), "direct run");
    const std::vector<float> direct = d_y.download();
    d_y.poison();
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    cuda_ok(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
    layer();
    cuda_ok(cudaStreamEndCapture(stream, &graph), "end capture");
    cuda_ok(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
    cuda_ok(cudaGraphLaunch(exec, stream), "replay");
    cuda_ok(cudaGraphLaunch(exec, stream), "replay");
    cuda_ok(cudaStreamSynchronize(stream), "replay");
    const std::vector<float> replayed = d_y.download();
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    compare("moe layer in a CUDA graph vs direct", replayed, direct, std::vector<double>(direct.size(), 0.0), tally);
  }
  report("moe combine + graph (exact)", tally);
  return tally.failed;
}

int test_moe_errors() {
  int failures = 0;
  int cases = 0;
  auto expect_error = [&](const char* what, auto&& fn) {
    ++cases;
    try {
      fn();
      std::printf("  FAIL %s: no error\n", what);
      ++failures;
    } catch (const fp4::Error& e) {
      std::printf("  ok   %s -> %s\n", what, e.what());
    }
  };
  alignas(16) float f[16] = {};
  int32_t ids[8] = {};
  expect_error("route: 300 experts", [&] {
    fp4::cuda::route(make_config(300, 8, 1, 1, RouterScoring::kSigmoid, RouterSelection::kGreedy, true, 1.f), f,
                     nullptr, 1, ids, f, nullptr);
  });
  expect_error("route: top_k > E", [&] {
    fp4::cuda::route(make_config(4, 5, 1, 1, RouterScoring::kSigmoid, RouterSelection::kGreedy, true, 1.f), f,
                     nullptr, 1, ids, f, nullptr);
  });
  expect_error("route: n_group does not divide E", [&] {
    fp4::cuda::route(make_config(10, 2, 3, 1, RouterScoring::kSigmoid, RouterSelection::kNoauxTc, true, 1.f), f, f,
                     1, ids, f, nullptr);
  });
  expect_error("route: noaux_tc without bias", [&] {
    fp4::cuda::route(make_config(8, 2, 1, 1, RouterScoring::kSigmoid, RouterSelection::kNoauxTc, true, 1.f), f,
                     nullptr, 1, ids, f, nullptr);
  });
  WeightView bf16;
  bf16.encoding = WeightEncoding::kBF16;
  bf16.rows = 4;
  bf16.cols = 32;
  bf16.data = f;
  expect_error("expert table: bf16 experts", [&] { fp4::cuda::DeviceExpertTable t({bf16}); });
  WeightView a;
  a.encoding = WeightEncoding::kNVFP4;
  a.rows = 4;
  a.cols = 48;
  a.data = f;
  a.block_scale = reinterpret_cast<const uint8_t*>(f);
  expect_error("expert table: K = 48", [&] { fp4::cuda::DeviceExpertTable t({a}); });
  WeightView b = a;
  a.cols = 64;
  b.cols = 32;
  expect_error("expert table: mixed shapes", [&] { fp4::cuda::DeviceExpertTable t({a, b}); });
  fp4::cuda::ExpertGroups big;
  big.tokens = 1024;
  big.top_k = 8;
  big.num_experts = 256;
  expect_error("group_by_expert: 8192 pairs", [&] { fp4::cuda::group_by_expert(ids, big, nullptr); });
  std::printf("%-28s %4d cases  %s\n", "moe argument errors", cases, failures ? "FAIL" : "ok  ");
  return failures;
}

}  // namespace

int test_moe_ops(bool quick, Rng& rng) {
  int failures = 0;
  failures += test_routing(quick, rng);
  failures += test_grouping(quick, rng);
  failures += test_grouped_matmul(quick, rng);
  failures += test_combine_and_chain(quick, rng);
  failures += test_moe_errors();
  return failures;
}

}  // namespace fp4::cuda_test
