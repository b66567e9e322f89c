// Whole models on the GPU against the CPU model (`--device cuda` vs `--device cpu`):
//   1. every golden fixture of tests/golden and models/tiny-r1: several sequences at once through paged
//      caches with shuffled block tables (the runtime's KvCache, host pools for the CPU model and device
//      pools for the GPU model), prefill chunks of different sizes batched with decode rows (so both MLA
//      forms run in one step), greedy continuations taken from the CPU, and a forked sequence whose
//      partial block is copied (KvCache::copy_rows → the device copy). Every logit row is compared:
//      top-1 agreement, NMSE and max |Δ| within the bounds derived below.
//   2. tiny-r1's greedy answers on its sample prompts (models/tiny-r1/README.md's prompt contract),
//      generated through runtime::generate on both devices: the token sequences must be identical.
//   3. errors: a GPU model given host pools, and a block id outside the device pools, are one-line
//      fp4::Errors, not crashes.
// Exit 0: all passed; 1: a check failed; 77: no Hopper GPU (CTest reports "skipped").
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/model/model.h"
#include "fp4/model_cuda/cuda_model.h"
#include "fp4/runtime/generate.h"
#include "fp4/runtime/kv_cache.h"
#include "fp4/runtime/served_model.h"

namespace fp4 {
namespace {

int g_failures = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    std::printf("FAIL: %s\n", what.c_str());
    ++g_failures;
  }
}

// The source tree: $FP4_SOURCE_DIR when set (a copy of the tree on another machine), else the one this
// binary was built from.
std::string source_path(const std::string& rel) {
  const char* env = std::getenv("FP4_SOURCE_DIR");
  return std::string(env != nullptr && *env != '\0' ? env : FP4_SOURCE_DIR) + "/" + rel;
}

// Error bound of the GPU logits against the CPU's.
//
// The CPU model computes every linear in f32 from the exactly decoded weights. The GPU takes the same
// weights but, on its tensor-core paths (BF16 weights through cuBLAS at any M; NVFP4 and FP8 at M > 8),
// rounds the activations to BF16 first (cuda_ops.h, docs/cuda.md). BF16 keeps 8 significant bits, so
// each activation carries an independent rounding error uniform in ±ulp/2 with ulp ≤ 2^-7·|x|: variance
// ≤ 2^-14/12·x². A linear's output error is then a sum of independent terms, with variance ≤
// 2^-14/12 · Σ x_i²w_i² ≈ 2^-14/12 · E[y²]: an NMSE of at most 2^-14/12 ≈ 5.1e-6 per linear. Along one
// token's path there are at most 10 linears per layer (MLA: q_a, q_b, kv_a, kv_b or the two absorbed
// products, o_proj; MLP or expert + shared: gate, up, down) plus lm_head, and their errors add. Norms,
// softmax and SiLU can amplify a perturbation; we allow a factor 16 for that (2 per nonlinearity, four
// in a block, not compounding across blocks because the residual stream carries the signal). So:
//   NMSE(logits) ≤ 16 · (10·layers + 1) · 2^-14/12,
// and, for Gaussian-like errors, every element within 6 standard deviations of that:
//   max|Δ| ≤ 6 · sqrt(NMSE bound · mean(ref²)).
// MoE models are discontinuous where a router decision is a near tie; the GPU computes router logits
// in f32 (an F32 copy of the router) so such swaps are rare, and the top-1 agreement checks absorb
// them. The NMSE and max checks apply to the dense models and to the MoE models' positions before the
// first routing difference of their sequence (compared via RoutingRecord; see Sequence::diverged_at).
double nmse_bound(int64_t layers) { return 16.0 * (10.0 * static_cast<double>(layers) + 1.0) * std::ldexp(1.0, -14) / 12.0; }

struct Stats {
  int64_t positions = 0, agree = 0;
  double err_sq = 0, ref_sq = 0, max_abs = 0;
  int64_t elements = 0;
  int64_t routing_rows = 0, routing_mismatch_rows = 0;
  int64_t after_divergence = 0;  // positions left out of the NMSE / max checks (see Sequence::diverged_at)
};

int64_t argmax(const float* row, int64_t n) { return std::max_element(row, row + n) - row; }

// Rows of one forward call whose every MoE routing decision agrees between the two models.
std::vector<bool> rows_routed_alike(const std::vector<model::RoutingRecord>& a,
                                    const std::vector<model::RoutingRecord>& b, int64_t N) {
  std::vector<bool> same(static_cast<size_t>(N), true);
  if (a.size() != b.size()) return std::vector<bool>(static_cast<size_t>(N), false);
  for (size_t l = 0; l < a.size(); ++l) {
    for (int64_t t = 0; t < N; ++t) {
      for (int64_t j = 0; j < a[l].top_k; ++j) {
        const size_t i = static_cast<size_t>(t * a[l].top_k + j);
        if (a[l].experts[i] != b[l].experts[i]) same[static_cast<size_t>(t)] = false;
      }
    }
  }
  return same;
}

struct Sequence {
  std::vector<int32_t> tokens;  // prompt, then greedy continuation (taken from the CPU logits)
  int64_t prompt = 0, total = 0, chunk = 0;
  int64_t done = 0;              // positions already in the cache
  std::vector<int32_t> blocks;   // block table, the same ids in both caches
  // First position where an MoE layer chose different experts on the two devices. That position's
  // cache rows differ by more than rounding, and every later position attends to them, so the
  // NMSE / max bounds apply only to positions before it.
  int64_t diverged_at = std::numeric_limits<int64_t>::max();
};

// One forward_batch on both models over the sequences' next rows; compares every returned logit row.
void step_both(model::Model& cpu, model::Model& gpu, const runtime::KvCache& ccache, const runtime::KvCache& gcache,
               std::vector<Sequence*>& seqs, Stats& st) {
  const int64_t V = cpu.vocab_size();
  std::vector<model::BatchSequence> cb, gb;
  std::vector<int64_t> rows_of;       // logit rows per sequence
  std::vector<int64_t> first_row_of;  // batch row of each sequence's first token
  int64_t n_rows = 0, logit_rows = 0;
  for (Sequence* s : seqs) {
    model::BatchSequence b;
    const int64_t T = s->done < s->prompt ? std::min(s->chunk, s->prompt - s->done) : 1;
    b.tokens = std::span<const int32_t>(s->tokens.data() + s->done, static_cast<size_t>(T));
    b.pos0 = s->done;
    b.logits = T > 1 ? model::BatchSequence::Logits::kAll : model::BatchSequence::Logits::kLast;
    b.kv = ccache.view(s->blocks);
    cb.push_back(b);
    b.kv = gcache.view(s->blocks);
    gb.push_back(b);
    first_row_of.push_back(n_rows);
    n_rows += T;
    rows_of.push_back(T > 1 ? T : 1);
    logit_rows += rows_of.back();
  }
  std::vector<float> cl(static_cast<size_t>(logit_rows * V)), gl(static_cast<size_t>(logit_rows * V));
  std::vector<model::RoutingRecord> cr, gr;
  model::ForwardOptions copt, gopt;
  copt.routing = &cr;
  gopt.routing = &gr;
  cpu.forward_batch(cb, copt, cl.data());
  gpu.forward_batch(gb, gopt, gl.data());
  const std::vector<bool> alike = rows_routed_alike(cr, gr, n_rows);
  if (!cr.empty()) {
    for (const bool a : alike) {
      st.routing_rows += 1;
      st.routing_mismatch_rows += a ? 0 : 1;
    }
  }
  int64_t out = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    Sequence* s = seqs[i];
    const int64_t T = static_cast<int64_t>(cb[i].tokens.size());
    for (int64_t t = 0; t < T; ++t) {
      if (!alike[static_cast<size_t>(first_row_of[i] + t)]) s->diverged_at = std::min(s->diverged_at, s->done + t);
    }
    for (int64_t r = 0; r < rows_of[i]; ++r, ++out) {
      const float* c = cl.data() + out * V;
      const float* g = gl.data() + out * V;
      st.positions += 1;
      st.agree += argmax(c, V) == argmax(g, V) ? 1 : 0;
      const int64_t position = s->done + (rows_of[i] == 1 ? T - 1 : r);
      if (position >= s->diverged_at) {
        st.after_divergence += 1;
        continue;
      }
      for (int64_t v = 0; v < V; ++v) {
        const double d = static_cast<double>(g[v]) - static_cast<double>(c[v]);
        st.err_sq += d * d;
        st.ref_sq += static_cast<double>(c[v]) * static_cast<double>(c[v]);
        st.max_abs = std::max(st.max_abs, std::fabs(d));
        st.elements += 1;
      }
    }
    s->done += T;
    // The next token of a sequence past its prompt: the CPU's greedy choice.
    if (s->done >= s->prompt && s->done < s->total && static_cast<int64_t>(s->tokens.size()) == s->done) {
      s->tokens.push_back(static_cast<int32_t>(argmax(cl.data() + (out - 1) * V, V)));
    }
  }
}

Stats compare_model(const std::string& dir, ThreadPool& pool) {
  std::unique_ptr<model::Model> cpu = model::Model::load(dir, pool);
  std::unique_ptr<model::Model> gpu = model_cuda::load_cuda_model(dir, pool);
  const int64_t V = cpu->vocab_size();
  constexpr int64_t kBlock = 4;
  // Prompt length, decode steps and prefill chunk per sequence: chunks of different sizes, so that prefill
  // chunks (T > 1) and decode rows (T = 1) share steps.
  const int64_t plan[4][3] = {{23, 24, 16}, {9, 30, 4}, {31, 16, 7}, {14, 28, 5}};
  constexpr int64_t kForkSteps = 8;
  int64_t blocks_needed = 0;
  for (const auto& p : plan) blocks_needed += (p[0] + p[1] + kBlock - 1) / kBlock;
  blocks_needed += (kForkSteps + kBlock) / kBlock + 1;
  const int64_t num_blocks = blocks_needed + 5;
  runtime::KvCache ccache(*cpu, kBlock, num_blocks);
  runtime::KvCache gcache(*gpu, kBlock, num_blocks);
  expect(!ccache.on_device() && gcache.on_device(), dir + ": the GPU model's cache should live on the device");
  // Take every block from both caches (they hand out the same ids) and deal them out shuffled.
  std::vector<int32_t> ids;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const int32_t c = ccache.allocate(), g = gcache.allocate();
    expect(c == g, dir + ": the two caches should hand out the same block ids");
    ids.push_back(c);
  }
  std::mt19937 rng(20261129);
  std::shuffle(ids.begin(), ids.end(), rng);
  size_t next_block = 0;
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(V - 1));

  std::vector<Sequence> seqs(4);
  for (size_t i = 0; i < seqs.size(); ++i) {
    Sequence& s = seqs[i];
    s.prompt = plan[i][0];
    s.total = plan[i][0] + plan[i][1];
    s.chunk = plan[i][2];
    for (int64_t t = 0; t < s.prompt; ++t) s.tokens.push_back(token(rng));
    for (int64_t b = 0; b < (s.total + kBlock - 1) / kBlock; ++b) s.blocks.push_back(ids[next_block++]);
  }
  Stats st;
  for (;;) {
    std::vector<Sequence*> active;
    for (Sequence& s : seqs) {
      if (s.done < s.total) active.push_back(&s);
    }
    if (active.empty()) break;
    step_both(*cpu, *gpu, ccache, gcache, active, st);
  }
  // Fork sequence 1 at its end, as the engine forks completions: its full blocks shared, its partly filled
  // last block copied into a fresh one (KvCache::copy_rows; on the GPU model, copy_kv_rows), then decode.
  const Sequence& lead = seqs[1];
  Sequence fork;
  fork.tokens = lead.tokens;
  fork.prompt = lead.total;
  fork.done = lead.total;
  fork.total = lead.total + kForkSteps;
  fork.chunk = 1;
  fork.diverged_at = lead.diverged_at;  // it shares the lead's cached rows
  const int64_t full = lead.total / kBlock, partial = lead.total % kBlock;
  fork.blocks.assign(lead.blocks.begin(), lead.blocks.begin() + full);
  if (partial > 0) {
    const int32_t copy = ids[next_block++];
    ccache.copy_rows(lead.blocks[static_cast<size_t>(full)], copy, partial);
    gcache.copy_rows(lead.blocks[static_cast<size_t>(full)], copy, partial);
    fork.blocks.push_back(copy);
  }
  while (static_cast<int64_t>(fork.blocks.size()) * kBlock < fork.total) fork.blocks.push_back(ids[next_block++]);
  fork.tokens.push_back(token(rng));  // a different continuation than the lead's
  while (fork.done < fork.total) {
    std::vector<Sequence*> one{&fork};
    step_both(*cpu, *gpu, ccache, gcache, one, st);
  }

  const double nmse = st.ref_sq > 0 ? st.err_sq / st.ref_sq : 0.0;
  const double bound = nmse_bound(cpu->num_layers());
  const double max_bound = st.elements > 0 ? 6.0 * std::sqrt(bound * st.ref_sq / static_cast<double>(st.elements)) : 0;
  const double agreement = static_cast<double>(st.agree) / static_cast<double>(st.positions);
  const std::string name = std::filesystem::path(dir).filename().string();
  std::printf("%-24s positions %4lld  top-1 agree %6.2f%%  NMSE %.2e (bound %.2e)  max|d| %.2e (bound %.2e)",
              name.c_str(), static_cast<long long>(st.positions), 100.0 * agreement, nmse, bound, st.max_abs,
              max_bound);
  if (st.routing_rows > 0) {
    std::printf("  rows routed differently %lld/%lld, positions after one %lld",
                static_cast<long long>(st.routing_mismatch_rows), static_cast<long long>(st.routing_rows),
                static_cast<long long>(st.after_divergence));
  }
  std::printf("\n");
  // Per model, a floor that any broken op falls far below (a wrong op leaves top-1 agreement near chance,
  // 1/vocab). It is not 99%: the fixtures' random weights put many positions within rounding of a tie,
  // and in the MoE fixtures one swapped expert perturbs every later position of its sequence (observed:
  // ≥ 94.5% per model). The 99% is asserted over all positions below.
  expect(agreement >= 0.90, name + ": top-1 agreement below 90%");
  expect(nmse <= bound, name + ": NMSE above its bound");
  expect(st.max_abs <= max_bound, name + ": max |GPU − CPU| above its bound");
  expect(st.elements > 0, name + ": no positions compared");
  return st;
}

// The user messages of tiny-r1's prompt contract (models/tiny-r1/README.md), one per family and style.
std::vector<std::string> tiny_r1_prompts() {
  return {
      "What is 23 + 58?\nPlease reason step by step, and put your final answer within \\boxed{}.",
      "What is 7 × 86?\nThink it through step by step and write the final answer in \\boxed{}.",
      "Solve for x: 3x - 53 = -95",
      "Find the greatest common divisor of 84 and 120.",
      "With F(1) = F(2) = 1, find the 12th Fibonacci number F(12).",
      "다음 문제를 차근차근 풀고, 최종 답을 \\boxed{} 안에 적어 주세요.\n\n45 - 17는 얼마인가요?",
  };
}

void greedy_tiny_r1(const std::string& dir) {
  runtime::EngineConfig config;
  config.max_num_seqs = 1;
  auto served = runtime::ServedModel::load(dir, config, 4);  // CPU model, tokenizer, template, EOS ids
  ThreadPool pool(4);
  std::unique_ptr<model::Model> gpu = model_cuda::load_cuda_model(dir, pool);
  int identical = 0, total = 0;
  for (const std::string& user : tiny_r1_prompts()) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    messages.push_back({{"role", "user"}, {"content", user}});
    const std::vector<int32_t> prompt = served->encode_chat(messages, nullptr, nullptr);
    runtime::GenerateOptions opt;
    opt.max_tokens = 256;
    opt.stop_tokens = served->eos_ids;
    const runtime::GenerateResult c = runtime::generate(*served->model, prompt, opt);
    const runtime::GenerateResult g = runtime::generate(*gpu, prompt, opt);
    const std::vector<uint32_t> ids(g.tokens.begin(), g.tokens.end());
    std::string text = served->tokenizer->decode(ids);
    const size_t boxed = text.rfind("\\boxed{");
    const std::string answer = boxed == std::string::npos ? "(no \\boxed{})" : text.substr(boxed);
    const bool same = c.tokens == g.tokens;
    std::printf("tiny-r1 greedy: %zu tokens (CPU %zu)%s, %s  answer: %s\n", g.tokens.size(), c.tokens.size(),
                g.stopped ? " ending on EOS" : "", same ? "identical" : "DIFFERENT", answer.substr(0, 40).c_str());
    identical += same ? 1 : 0;
    total += 1;
    expect(same, "tiny-r1 greedy answer differs between CPU and GPU for: " + user.substr(0, 40));
  }
  std::printf("tiny-r1 greedy answers identical: %d/%d\n", identical, total);
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

void error_cases(ThreadPool& pool) {
  const std::string dir = source_path("tests/golden/llama_bf16");
  std::unique_ptr<model::Model> gpu = model_cuda::load_cuda_model(dir, pool);
  const std::vector<int32_t> tokens = {1, 2, 3};
  std::vector<float> logits(static_cast<size_t>(gpu->vocab_size()));
  {
    runtime::KvCache host(gpu->num_layers(), gpu->kv_row_floats(), 4, 4);  // host pools: not for a GPU model
    std::vector<int32_t> table = {host.allocate()};
    const std::string e = error_of([&] { gpu->forward(tokens, 0, host.view(table), {}, logits.data()); });
    std::printf("error (host pools): %s\n", e.c_str());
    expect(e.find("not on the device") != std::string::npos, "a GPU model given host pools should say so");
  }
  {
    runtime::KvCache dev(*gpu, 4, 2);
    std::vector<int32_t> table = {7};  // outside the 2 device blocks
    const std::string e = error_of([&] { gpu->forward(tokens, 0, dev.view(table), {}, logits.data()); });
    std::printf("error (bad block id): %s\n", e.c_str());
    expect(e.find("outside the device pools") != std::string::npos, "a block id beyond the pools should be refused");
  }
}

// argv: fixture folders to compare (names under tests/golden, or "tiny-r1"); none: every fixture, tiny-r1
// and the tiny-r1 greedy answers, with the 1,000-position / 99% requirement (a subset is for quick runs,
// e.g. under compute-sanitizer, and skips those).
int run(int argc, char** argv) {
  if (cuda::device_count() == 0) {
    std::printf("no CUDA GPU: skipped\n");
    return 77;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || prop.major != 9) {
    std::printf("GPU 0 is not Hopper (sm_90a): skipped\n");
    return 77;
  }
  ThreadPool pool(4);
  const bool everything = argc <= 1;
  std::vector<std::string> dirs;
  if (everything) {
    for (const char* family :
         {"deepseek_v3", "deepseek_v2_lite", "deepseek_v2", "llama", "qwen2", "qwen2_tied", "qwen3"}) {
      for (const char* enc : {"bf16", "fp8", "nvfp4"}) dirs.push_back(source_path("tests/golden/") + family + "_" + enc);
    }
    dirs.push_back(source_path("models/tiny-r1"));
  }
  for (int i = 1; i < argc; ++i) {
    const std::string name = argv[i];
    dirs.push_back(name == "tiny-r1" ? source_path("models/tiny-r1") : source_path("tests/golden/" + name));
  }
  Stats all;
  for (const std::string& dir : dirs) {
    try {
      const Stats s = compare_model(dir, pool);
      all.positions += s.positions;
      all.agree += s.agree;
    } catch (const Error& e) {
      expect(false, dir + ": " + e.what());
    }
  }
  const double agreement = all.positions > 0 ? static_cast<double>(all.agree) / static_cast<double>(all.positions) : 0;
  std::printf("all models: %lld positions, top-1 agreement %.3f%%\n", static_cast<long long>(all.positions),
              100.0 * agreement);
  if (everything) {
    expect(all.positions >= 1000, "fewer than 1,000 positions compared");
    expect(agreement >= 0.99, "top-1 agreement over all positions below 99%");
    try {
      greedy_tiny_r1(source_path("models/tiny-r1"));
    } catch (const Error& e) {
      expect(false, std::string("tiny-r1 greedy: ") + e.what());
    }
  }
  try {
    error_cases(pool);
  } catch (const Error& e) {
    expect(false, std::string("error cases: ") + e.what());
  }
  std::printf("%s (%d failed checks)\n", g_failures == 0 ? "PASSED" : "FAILED", g_failures);
  return g_failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace fp4

int main(int argc, char** argv) { return fp4::run(argc, argv); }
