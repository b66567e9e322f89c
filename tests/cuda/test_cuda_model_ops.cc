// GPU op tests of model_ops.h: attention against cpu::reference::attention (double) within a bound
// derived from the kernel's f32 arithmetic, and the row ops (residual add, gather, weighted scatter-add,
// KV writes, block copies) bit for bit against scalar host loops.
//
// Everything the kernels must not read is NaN: pool blocks outside the block table, rows past num_kv,
// padding between heads and rows. Every output buffer is poisoned with NaN before the launch and its
// padding must still hold the poison afterwards.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "cuda_test_support.h"
#include "fp4/backends/cuda/model_ops.h"
#include "fp4/base/error.h"
#include "fp4/ops/attention.h"

namespace fp4::cuda_test {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- Attention -------------------------------------------------------------------------------------------

enum class KvKind {
  kGqa,          // one cache row per token: [K heads G·D | V heads G·D] (llama.cc's layout)
  kExpandedMla,  // K [N, H, 192] and V inside kv_b's output [N, H, 128 + 128] at offset 128 (mla.cc)
  kAbsorbedMla,  // one kv head, row [512 latent | 64 rope], V = the first 512 values of the row
};

struct AttentionCase {
  KvKind kind = KvKind::kGqa;
  int heads = 1;     // H
  int kv_heads = 1;  // G
  int qk_dim = 64;
  int v_dim = 64;
  int block_size = 0;  // 0 = contiguous
  int queries = 1;     // T
  int q_pos0 = 0;
  int kv_splits = 0;   // AttentionOptions::kv_splits
  float q_range = 1.f; // q values in [-q_range, q_range]: larger values give peakier softmaxes
  int pad = 0;         // extra floats after each q/out token row and each cache row
  bool graph = false;  // run through a captured CUDA graph (replayed twice) instead of a direct call
};

std::string case_name(const AttentionCase& c) {
  const char* kind = c.kind == KvKind::kGqa ? "gqa" : c.kind == KvKind::kExpandedMla ? "mla-expanded" : "mla-absorbed";
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s H=%d G=%d dk=%d dv=%d %s%d T=%d pos0=%d splits=%d%s", kind, c.heads,
                c.kv_heads, c.qk_dim, c.v_dim, c.block_size ? "paged bs=" : "contiguous", c.block_size, c.queries,
                c.q_pos0, c.kv_splits, c.graph ? " graph" : "");
  return buf;
}

// Error bound of one output element (docs/cuda.md, "Attention error bound"). Per query row, with the
// exact scores s_j (double), their magnitudes a_j = scale·Σ_i |q_i·k_ji|, range R = max s − min s, the
// exact weights w_j and n_kv visible keys:
//   - each score carries ≤ Dk + 8 roundings (≤ Dk FMAs in four chains per lane, 2 adds joining the
//     chains, ≤ 5 shuffle adds, × scale): |δ_j| ≤ γ_{Dk+8}·a_j;
//   - each unnormalised weight e^{s_j − m} is further off by the rounding of s_j − m (≤ u·R), by expf
//     (≤ 2 ulp ≤ 4u), and by every later rescale of the online softmax or the split merge, each an expf
//     of an argument rounded to ≤ u·R plus one product rounding: with n_r = n_kv/8 + 64 + 2 rescales at
//     most (tiles of ≥ 8 keys, ≤ 64 splits): ρ = max_j |δ_j| + u·R·(n_r + 1) + 5u·(n_r + 1) bounds the
//     exponent error, so each weight is within a factor e^{±ρ};
//   - weights within e^{±ρ} of exact, normalised by their own sum, move Σ_j w_j·v_j by at most
//     2(e^ρ − 1)/(2 − e^ρ)·Σ_j w_j·|v_j|;
//   - the f32 sums Σ p_j·v_j and Σ p_j take ≤ n_kv + n_r + 2 roundings per term: 2·γ_{n_kv + n_r + 2}
//     relative to Σ w_j·|v_j| for numerator and denominator together;
//   - the final division and the reference's own f32 rounding: 2u·|ref|.
std::vector<double> attention_bound(const cpu::AttentionParams& p, const float* q,
                                    const cpu::KvView& kv, const std::vector<float>& ref) {
  const double u = kU;
  const int64_t n_rep = p.num_q_heads / p.num_kv_heads;
  std::vector<double> bound(ref.size());
  std::vector<double> s, a;
  for (int64_t t = 0; t < p.num_queries; ++t) {
    const int64_t visible = p.q_pos0 + t + 1;
    s.assign(static_cast<size_t>(visible), 0.0);
    a.assign(static_cast<size_t>(visible), 0.0);
    const double n_r = static_cast<double>(visible) / 8.0 + 64.0 + 2.0;
    for (int64_t h = 0; h < p.num_q_heads; ++h) {
      const int64_t g = h / n_rep;
      const float* qh = q + t * p.q_token_stride + h * p.q_head_stride;
      double max_s = -INFINITY, min_s = INFINITY, max_delta = 0.0;
      for (int64_t j = 0; j < visible; ++j) {
        const float* k = kv.k_row(j, g);
        double dot = 0.0, mag = 0.0;
        for (int64_t i = 0; i < p.qk_dim; ++i) {
          dot += static_cast<double>(qh[i]) * k[i];
          mag += std::fabs(static_cast<double>(qh[i]) * k[i]);
        }
        s[j] = dot * p.softmax_scale;
        a[j] = mag * p.softmax_scale;
        max_s = std::max(max_s, s[j]);
        min_s = std::min(min_s, s[j]);
        max_delta = std::max(max_delta, gamma_d(p.qk_dim + 8.0, u) * a[j]);
      }
      const double range = max_s - min_s;
      const double rho = max_delta + (u * range + 5.0 * u) * (n_r + 1.0);
      const double e = std::exp(rho) - 1.0;
      const double factor = 2.0 * e / (1.0 - e) + 2.0 * gamma_d(visible + n_r + 2.0, u);
      double total = 0.0;
      for (int64_t j = 0; j < visible; ++j) total += (a[j] = std::exp(s[j] - max_s));  // a_j reused as e^{s_j − m}
      for (int64_t d = 0; d < p.v_dim; ++d) {
        double weighted = 0.0;  // Σ_j w_j·|v_jd|
        for (int64_t j = 0; j < visible; ++j) weighted += a[j] / total * std::fabs(kv.v_row(j, g)[d]);
        const size_t o = static_cast<size_t>(t * p.out_token_stride + h * p.out_head_stride + d);
        bound[o] = factor * weighted + 2.0 * u * std::fabs(ref[o]) + kFloor;
      }
    }
  }
  return bound;
}

// Builds the case's cache on the host and the device, runs both backends and compares.
void run_attention_case(const AttentionCase& c, Rng& rng, Tally& tally) {
  const int64_t T = c.queries, H = c.heads, G = c.kv_heads, Dk = c.qk_dim, Dv = c.v_dim;
  const int64_t num_kv = c.q_pos0 + T;
  const bool paged = c.block_size > 0;

  // Cache stores: rows of k_row / v_row floats, one row per physical token slot.
  int64_t k_row = 0, v_row = 0, k_off = 0, v_off = 0, k_head = 0, v_head = 0;
  bool shared_store = true;
  switch (c.kind) {
    case KvKind::kGqa:
      k_row = 2 * G * Dk + c.pad;
      k_off = 0;
      v_off = G * Dk;
      k_head = v_head = Dk;
      break;
    case KvKind::kExpandedMla:
      shared_store = false;
      k_row = H * Dk + c.pad;
      v_row = H * (128 + Dv) + c.pad;
      v_off = 128;  // V after each head's 128 k_nope values
      k_head = Dk;
      v_head = 128 + Dv;
      break;
    case KvKind::kAbsorbedMla:
      k_row = Dk + c.pad;
      break;
  }
  if (shared_store) v_row = k_row;

  // Physical slots: contiguous tokens plus two spare NaN rows, or a shuffled subset of a larger pool.
  std::vector<int32_t> table;
  int64_t slots = num_kv + 2;
  if (paged) {
    const int64_t used = (num_kv + c.block_size - 1) / c.block_size;
    const int64_t pool_blocks = used + 3;
    std::vector<int32_t> perm(static_cast<size_t>(pool_blocks));
    std::iota(perm.begin(), perm.end(), 0);
    for (int64_t i = pool_blocks - 1; i > 0; --i) std::swap(perm[i], perm[rng.uniform_int(0, static_cast<int>(i))]);
    table.assign(perm.begin(), perm.begin() + used);
    slots = pool_blocks * c.block_size;
  }
  auto slot_of = [&](int64_t u) { return paged ? table[u / c.block_size] * int64_t{c.block_size} + u % c.block_size : u; };
  std::vector<float> k_store(static_cast<size_t>(slots * k_row), kNaN);
  std::vector<float> v_store(shared_store ? 0 : static_cast<size_t>(slots * v_row), kNaN);
  for (int64_t u = 0; u < num_kv; ++u) {
    const int64_t slot = slot_of(u);
    for (int64_t g = 0; g < G; ++g) {
      float* k = k_store.data() + slot * k_row + k_off + g * k_head;
      for (int64_t i = 0; i < Dk; ++i) k[i] = rng.uniform(-1.f, 1.f);
      if (c.kind == KvKind::kAbsorbedMla) continue;  // V is the head of the K row
      float* v = (shared_store ? k_store.data() + slot * k_row : v_store.data() + slot * v_row) + v_off + g * v_head;
      for (int64_t i = 0; i < Dv; ++i) v[i] = rng.uniform(-1.f, 1.f);
    }
  }

  const int64_t q_token = H * Dk + c.pad;
  const int64_t out_token = H * Dv + c.pad;
  std::vector<float> q(static_cast<size_t>(T * q_token), kNaN);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < H * Dk; ++i) q[t * q_token + i] = rng.uniform(-c.q_range, c.q_range);
  }

  cpu::AttentionParams p;
  p.num_queries = T;
  p.num_kv = num_kv;
  p.q_pos0 = c.q_pos0;
  p.num_q_heads = H;
  p.num_kv_heads = G;
  p.qk_dim = Dk;
  p.v_dim = Dv;
  p.softmax_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(Dk))) * rng.uniform(0.5f, 2.0f);
  p.q_token_stride = q_token;
  p.q_head_stride = Dk;
  p.out_token_stride = out_token;
  p.out_head_stride = Dv;

  DeviceArray<float> d_k(k_store), d_v(v_store.empty() ? std::vector<float>(1) : v_store), d_q(q);
  DeviceArray<int32_t> d_table(table.empty() ? std::vector<int32_t>(1) : table);
  auto make_view = [&](const float* k_base, const float* v_base, const int32_t* block_table) {
    cpu::KvView kv;
    kv.k = k_base + k_off;
    kv.v = (shared_store ? k_base : v_base) + v_off;
    kv.k_token_stride = k_row;
    kv.v_token_stride = v_row;
    kv.k_head_stride = k_head;
    kv.v_head_stride = v_head;
    if (paged) {
      kv.block_table = block_table;
      kv.block_size = c.block_size;
      kv.k_block_stride = c.block_size * k_row;
      kv.v_block_stride = c.block_size * v_row;
    }
    return kv;
  };
  const cpu::KvView host_kv = make_view(k_store.data(), v_store.data(), table.data());
  const cpu::KvView dev_kv = make_view(d_k.get(), d_v.get(), d_table.get());

  std::vector<float> ref(static_cast<size_t>(T * out_token), kNaN);
  cpu::reference::attention(p, q.data(), host_kv, ref.data());
  DeviceArray<float> d_out(ref.size());
  d_out.poison();
  cuda::AttentionOptions options;
  options.kv_splits = c.kv_splits;
  if (c.graph) {
    // Captured once, replayed twice: the split path's stream-ordered temporaries become graph nodes.
    cudaStream_t stream;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    cuda_ok(cudaDeviceSynchronize(), "poison");  // the non-blocking stream does not wait for the legacy one
    cuda_ok(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
    cuda_ok(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    cuda::attention(p, d_q.get(), dev_kv, d_out.get(), stream, options);
    cuda_ok(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
    cuda_ok(cudaGraphInstantiate(&exec, graph, 0), "cudaGraphInstantiate");
    for (int replay = 0; replay < 2; ++replay) cuda_ok(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");
    cuda_ok(cudaStreamSynchronize(stream), "graph replay");
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
  } else {
    cuda::attention(p, d_q.get(), dev_kv, d_out.get(), nullptr, options);
  }
  std::vector<float> got = d_out.download();

  std::vector<double> bound = attention_bound(p, q.data(), host_kv, ref);
  // Row padding is not output: it must still hold the poison; then it is left out of the comparison.
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = H * Dv; i < out_token; ++i) {
      const size_t o = static_cast<size_t>(t * out_token + i);
      if (!std::isnan(got[o])) {
        std::printf("  FAIL %s: padding element %zu was written\n", case_name(c).c_str(), o);
        ++tally.failed;
      }
      got[o] = ref[o] = 0.f;
      bound[o] = 0.0;
    }
  }
  compare(case_name(c), got, ref, bound, tally);
}

int test_attention(bool quick, Rng& rng) {
  int failures = 0;
  auto position = [&](int lo, int hi) { return rng.uniform_int(lo, hi); };
  // (T, q_pos0) variants: a first decode step, decode over a cache, a first prefill chunk, a later chunk.
  auto query_shapes = [&](int max_pos) {
    return std::vector<std::pair<int, int>>{{1, 0}, {1, position(1, max_pos)}, {37, 0}, {37, position(1, max_pos)}};
  };
  {
    Tally tally;
    const int ratios[] = {1, 4, 8};
    const int layouts[] = {0, 16, 64};  // contiguous, paged with blocks of 16 and of 64
    const int dims[] = {64, 128, 80, 96};
    int n = 0;
    for (int ratio : ratios) {
      for (int bs : layouts) {
        for (auto [T, pos0] : query_shapes(quick ? 40 : 260)) {
          if (quick && (n++ % 6 != 0)) continue;
          AttentionCase c;
          c.kind = KvKind::kGqa;
          c.kv_heads = rng.uniform_int(1, quick ? 2 : 4);
          c.heads = c.kv_heads * ratio;
          c.qk_dim = c.v_dim = dims[rng.uniform_int(0, 3)];
          c.block_size = bs;
          c.queries = quick ? std::min(T, 5) : T;
          c.q_pos0 = pos0;
          c.q_range = rng.uniform_int(0, 1) ? 1.f : 4.f;
          c.pad = rng.uniform_int(0, 1) * 4;
          run_attention_case(c, rng, tally);
        }
      }
    }
    report("attention gqa", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    const int layouts[] = {0, 16, 64};
    int n = 0;
    for (int bs : layouts) {
      for (auto [T, pos0] : query_shapes(quick ? 30 : 200)) {
        if (quick && (n++ % 4 != 1)) continue;
        AttentionCase c;
        c.kind = KvKind::kAbsorbedMla;
        c.heads = 16;
        c.kv_heads = 1;
        c.qk_dim = 576;
        c.v_dim = 512;
        c.block_size = bs;
        c.queries = quick ? std::min(T, 3) : T;
        c.q_pos0 = pos0;
        c.q_range = rng.uniform_int(0, 1) ? 1.f : 3.f;
        run_attention_case(c, rng, tally);
      }
    }
    report("attention mla absorbed", tally);
    failures += tally.failed;
  }
  {
    Tally tally;
    int n = 0;
    for (int heads : {4, 16}) {
      for (auto [T, pos0] : query_shapes(quick ? 30 : 200)) {
        if (quick && (n++ % 4 != 2)) continue;
        AttentionCase c;
        c.kind = KvKind::kExpandedMla;
        c.heads = c.kv_heads = heads;
        c.qk_dim = 192;
        c.v_dim = 128;
        c.queries = quick ? std::min(T, 4) : T;
        c.q_pos0 = pos0;
        c.q_range = 2.f;
        run_attention_case(c, rng, tally);
      }
    }
    report("attention mla expanded", tally);
    failures += tally.failed;
  }
  {
    // Long decode contexts (automatic kv splits), forced splits including a prefill chunk whose early
    // queries see nothing of the later splits, 128 absorbed heads (8 head chunks), a longer prefill, and
    // dims that are not multiples of 4 (scalar loads, odd row pitches).
    Tally tally;
    std::vector<AttentionCase> cases;
    AttentionCase c;
    c.kind = KvKind::kGqa;
    c.heads = 8;
    c.kv_heads = 1;
    c.qk_dim = c.v_dim = 128;
    c.block_size = 16;
    c.queries = 1;
    c.q_pos0 = quick ? 300 : 4000;
    cases.push_back(c);  // automatic splits
    c.graph = true;
    cases.push_back(c);
    c.graph = false;
    c.kv_splits = 1;
    cases.push_back(c);
    c.kv_splits = quick ? 5 : 64;
    cases.push_back(c);
    c = AttentionCase{};
    c.kind = KvKind::kAbsorbedMla;
    c.heads = 16;
    c.qk_dim = 576;
    c.v_dim = 512;
    c.block_size = 64;
    c.q_pos0 = quick ? 200 : 3000;
    c.q_range = 3.f;
    cases.push_back(c);
    c.queries = quick ? 6 : 37;
    c.q_pos0 = quick ? 20 : 150;
    c.kv_splits = 3;
    cases.push_back(c);
    if (!quick) {
      c = AttentionCase{};
      c.kind = KvKind::kAbsorbedMla;
      c.heads = 128;
      c.qk_dim = 576;
      c.v_dim = 512;
      c.block_size = 64;
      c.q_pos0 = 500;
      cases.push_back(c);
      c = AttentionCase{};
      c.kind = KvKind::kGqa;
      c.heads = 28;
      c.kv_heads = 4;
      c.qk_dim = c.v_dim = 128;
      c.block_size = 16;
      c.queries = 200;
      cases.push_back(c);
    }
    c = AttentionCase{};
    c.kind = KvKind::kGqa;
    c.heads = 6;
    c.kv_heads = 2;
    c.qk_dim = c.v_dim = 67;
    c.block_size = 16;
    c.queries = quick ? 3 : 20;
    c.q_pos0 = 40;
    c.pad = 1;
    cases.push_back(c);
    c.kind = KvKind::kExpandedMla;
    c.heads = c.kv_heads = 3;
    c.qk_dim = 192;
    c.v_dim = 45;
    c.block_size = 0;
    cases.push_back(c);
    for (const AttentionCase& each : cases) run_attention_case(each, rng, tally);
    report("attention splits/odd shapes", tally);
    failures += tally.failed;
  }
  return failures;
}

// ---- Row ops ---------------------------------------------------------------------------------------------

// Bitwise equality (NaN poison included) of a whole buffer.
void same_bits(const std::string& name, const std::vector<float>& got, const std::vector<float>& want, Tally& tally) {
  ++tally.cases;
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      if (bad < 5) std::printf("  FAIL %s: element %zu got %.9g want %.9g\n", name.c_str(), i, got[i], want[i]);
      ++bad;
    }
  }
  if (bad > 0) {
    ++tally.failed;
    std::printf("  FAIL %s: %d of %zu elements differ\n", name.c_str(), bad, want.size());
  }
}

std::vector<float> random_values(size_t count, Rng& rng) {
  std::vector<float> v(count);
  for (auto& x : v) x = rng.uniform(-8.f, 8.f);
  return v;
}

// The poison pattern of DeviceArray::poison(), for the host-side expectation.
float poison_value() {
  const uint32_t bits = 0xFFFFFFFFu;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Distinct random indices in [0, range).
std::vector<int32_t> distinct_indices(int count, int range, Rng& rng) {
  std::vector<int32_t> all(static_cast<size_t>(range));
  std::iota(all.begin(), all.end(), 0);
  for (int i = range - 1; i > 0; --i) std::swap(all[i], all[rng.uniform_int(0, i)]);
  all.resize(static_cast<size_t>(count));
  return all;
}

int test_rows(bool quick, Rng& rng) {
  int failures = 0;
  const int trials = quick ? 2 : 6;
  Tally tally;
  for (int trial = 0; trial < trials; ++trial) {
    const int rows = rng.uniform_int(1, quick ? 20 : 300);
    const int n = rng.uniform_int(1, quick ? 300 : 7200);
    const int pad = rng.uniform_int(0, 5);
    const std::string shape = " rows=" + std::to_string(rows) + " n=" + std::to_string(n);
    {  // add_rows: y [rows, n + pad] += x [rows, n + 2·pad]; y's padding stays as it was.
      const int ys = n + pad, xs = n + 2 * pad;
      std::vector<float> y = random_values(static_cast<size_t>(rows) * ys, rng);
      const std::vector<float> x = random_values(static_cast<size_t>(rows) * xs, rng);
      std::vector<float> want = y;
      for (int r = 0; r < rows; ++r) {
        for (int i = 0; i < n; ++i) want[static_cast<size_t>(r) * ys + i] += x[static_cast<size_t>(r) * xs + i];
      }
      DeviceArray<float> d_y(y), d_x(x);
      cuda::add_rows(d_y.get(), ys, d_x.get(), xs, rows, n, nullptr);
      same_bits("add_rows" + shape, d_y.download(), want, tally);
    }
    const int src_rows = rows + rng.uniform_int(0, 40);
    const int count = rng.uniform_int(1, src_rows);
    const std::vector<int32_t> index = distinct_indices(count, src_rows, rng);
    DeviceArray<int32_t> d_index(index);
    {  // gather_rows: dst [count, n + pad] (poisoned) = src[index].
      const int ss = n + pad + 1, ds = n + pad;
      const std::vector<float> src = random_values(static_cast<size_t>(src_rows) * ss, rng);
      std::vector<float> want(static_cast<size_t>(count) * ds, poison_value());
      for (int i = 0; i < count; ++i) {
        std::copy_n(src.data() + static_cast<size_t>(index[i]) * ss, n, want.data() + static_cast<size_t>(i) * ds);
      }
      DeviceArray<float> d_src(src), d_dst(want.size());
      d_dst.poison();
      cuda::gather_rows(d_src.get(), ss, d_index.get(), count, n, d_dst.get(), ds, nullptr);
      same_bits("gather_rows" + shape, d_dst.download(), want, tally);
    }
    for (const bool weighted : {true, false}) {  // scatter_add_rows: y[index[i]] += w[i]·x[i]
      const int xs = n + pad, ys = n + 2;
      const std::vector<float> x = random_values(static_cast<size_t>(count) * xs, rng);
      const std::vector<float> weight = random_values(static_cast<size_t>(count), rng);
      std::vector<float> y = random_values(static_cast<size_t>(src_rows) * ys, rng);
      std::vector<float> want = y;
      for (int i = 0; i < count; ++i) {
        for (int c = 0; c < n; ++c) {
          volatile float term = x[static_cast<size_t>(i) * xs + c];  // volatile: one rounding, never an FMA
          if (weighted) term = term * weight[i];
          want[static_cast<size_t>(index[i]) * ys + c] += term;
        }
      }
      DeviceArray<float> d_x(x), d_w(weight), d_y(y);
      cuda::scatter_add_rows(d_x.get(), xs, d_index.get(), weighted ? d_w.get() : nullptr, count, n, d_y.get(), ys,
                             nullptr);
      same_bits(std::string("scatter_add_rows") + (weighted ? " weighted" : " unweighted") + shape, d_y.download(),
                want, tally);
    }
    {  // write_kv_rows: rows of n floats into columns [col_offset, col_offset + n) of pool slots.
      const int block_size = trial % 2 ? 16 : 64;
      const int blocks = rng.uniform_int(2, 12);
      const int col_offset = rng.uniform_int(0, 64);
      const int row_floats = col_offset + n + rng.uniform_int(0, 64);
      const int writes = std::min(rows, blocks * block_size);
      std::vector<int32_t> slot32 = distinct_indices(writes, blocks * block_size, rng);
      const std::vector<int64_t> slot(slot32.begin(), slot32.end());
      const int ss = n + pad;
      const std::vector<float> src = random_values(static_cast<size_t>(writes) * ss, rng);
      const std::vector<float> pool = random_values(static_cast<size_t>(blocks) * block_size * row_floats, rng);
      std::vector<float> want = pool;
      for (int r = 0; r < writes; ++r) {
        std::copy_n(src.data() + static_cast<size_t>(r) * ss, n,
                    want.data() + static_cast<size_t>(slot[r]) * row_floats + col_offset);
      }
      DeviceArray<float> d_src(src), d_pool(pool);
      DeviceArray<int64_t> d_slot(slot);
      cuda::write_kv_rows(d_src.get(), ss, n, d_slot.get(), writes, d_pool.get(), row_floats, col_offset, nullptr);
      same_bits("write_kv_rows" + shape, d_pool.download(), want, tally);

      // copy_kv_block_rows: the first r rows of one block into another.
      const int32_t src_block = rng.uniform_int(0, blocks - 1);
      const int32_t dst_block = (src_block + rng.uniform_int(1, blocks - 1)) % blocks;
      const int copy_rows = rng.uniform_int(1, block_size);
      const size_t block_floats = static_cast<size_t>(block_size) * row_floats;
      std::copy_n(want.data() + src_block * block_floats, static_cast<size_t>(copy_rows) * row_floats,
                  want.data() + dst_block * block_floats);
      cuda::copy_kv_block_rows(d_pool.get(), row_floats, block_size, src_block, dst_block, copy_rows, nullptr);
      same_bits("copy_kv_block_rows" + shape, d_pool.download(), want, tally);
    }
  }
  report("row ops (bit-exact)", tally);
  failures += tally.failed;
  return failures;
}

int test_model_op_errors() {
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
  float dummy[64] = {};
  cpu::AttentionParams p;
  p.num_queries = 1;
  p.num_kv = 1;
  p.num_q_heads = 3;
  p.num_kv_heads = 2;
  p.qk_dim = p.v_dim = 8;
  p.softmax_scale = 0.5f;
  cpu::KvView kv;
  kv.k = kv.v = dummy;
  expect_error("attention heads 3 / kv heads 2", [&] { cuda::attention(p, dummy, kv, dummy, nullptr); });
  p.num_kv_heads = 1;
  p.v_dim = 2048;
  expect_error("attention v_dim 2048", [&] { cuda::attention(p, dummy, kv, dummy, nullptr); });
  p.v_dim = 8;
  cuda::AttentionOptions too_many;
  too_many.kv_splits = 65;
  expect_error("attention kv_splits 65", [&] { cuda::attention(p, dummy, kv, dummy, nullptr, too_many); });
  expect_error("write_kv_rows past the row", [&] {
    cuda::write_kv_rows(dummy, 8, 8, reinterpret_cast<const int64_t*>(dummy), 1, dummy, 8, 4, nullptr);
  });
  expect_error("copy_kv_block_rows onto itself", [&] { cuda::copy_kv_block_rows(dummy, 4, 4, 1, 1, 2, nullptr); });
  expect_error("add_rows stride below n", [&] { cuda::add_rows(dummy, 4, dummy, 8, 2, 8, nullptr); });
  std::printf("%-28s %4d cases  %s\n", "model-op argument errors", cases, failures ? "FAIL" : "ok  ");
  return failures;
}

// Informational timings of model-sized attention calls (printed, never asserted): K/V bytes read once per
// CTA group over the elapsed time, against the copy bandwidth the benchmark measures.
void time_attention(Rng& rng) {
  struct Shape {
    const char* name;
    KvKind kind;
    int heads, kv_heads, qk_dim, v_dim, queries, q_pos0;
  };
  const Shape shapes[] = {
      {"R1 absorbed decode, 4K ctx", KvKind::kAbsorbedMla, 128, 1, 576, 512, 1, 4095},
      {"V2-Lite absorbed decode, 4K", KvKind::kAbsorbedMla, 16, 1, 576, 512, 1, 4095},
      {"Llama-8B GQA decode, 4K ctx", KvKind::kGqa, 32, 8, 128, 128, 1, 4095},
      {"Llama-8B GQA prefill 512", KvKind::kGqa, 32, 8, 128, 128, 512, 0},
  };
  for (const Shape& s : shapes) {
    const int64_t num_kv = s.q_pos0 + s.queries;
    const int64_t row = s.kind == KvKind::kGqa ? 2LL * s.kv_heads * s.qk_dim : s.qk_dim;
    const int64_t block_size = 64;
    const int64_t blocks = (num_kv + block_size - 1) / block_size;
    std::vector<int32_t> table(static_cast<size_t>(blocks));
    std::iota(table.begin(), table.end(), 0);
    for (int64_t i = blocks - 1; i > 0; --i) std::swap(table[i], table[rng.uniform_int(0, static_cast<int>(i))]);
    DeviceArray<float> pool(random_values(static_cast<size_t>(blocks * block_size * row), rng));
    DeviceArray<float> q(random_values(static_cast<size_t>(s.queries) * s.heads * s.qk_dim, rng));
    DeviceArray<float> out(static_cast<size_t>(s.queries) * s.heads * s.v_dim);
    DeviceArray<int32_t> d_table(table);
    cpu::KvView kv;
    kv.k = pool.get();
    kv.v = s.kind == KvKind::kGqa ? pool.get() + s.kv_heads * s.qk_dim : pool.get();
    kv.k_token_stride = kv.v_token_stride = row;
    kv.k_head_stride = kv.v_head_stride = s.kind == KvKind::kGqa ? s.qk_dim : 0;
    kv.block_table = d_table.get();
    kv.block_size = block_size;
    kv.k_block_stride = kv.v_block_stride = block_size * row;
    cpu::AttentionParams p;
    p.num_queries = s.queries;
    p.num_kv = num_kv;
    p.q_pos0 = s.q_pos0;
    p.num_q_heads = s.heads;
    p.num_kv_heads = s.kv_heads;
    p.qk_dim = s.qk_dim;
    p.v_dim = s.v_dim;
    p.softmax_scale = 0.07f;
    p.q_token_stride = static_cast<int64_t>(s.heads) * s.qk_dim;
    p.q_head_stride = s.qk_dim;
    p.out_token_stride = static_cast<int64_t>(s.heads) * s.v_dim;
    p.out_head_stride = s.v_dim;
    cudaEvent_t start, stop;
    cuda_ok(cudaEventCreate(&start), "event");
    cuda_ok(cudaEventCreate(&stop), "event");
    cuda::attention(p, q.get(), kv, out.get(), nullptr);  // warm-up
    constexpr int kReps = 20;
    cuda_ok(cudaEventRecord(start), "event");
    for (int i = 0; i < kReps; ++i) cuda::attention(p, q.get(), kv, out.get(), nullptr);
    cuda_ok(cudaEventRecord(stop), "event");
    cuda_ok(cudaEventSynchronize(stop), "event");
    float ms = 0.f;
    cuda_ok(cudaEventElapsedTime(&ms, start, stop), "event");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    const double us = 1e3 * ms / kReps;
    const double bytes = static_cast<double>(num_kv) * row * sizeof(float);
    std::printf("  info %-30s %9.1f us  (K/V %.1f MB once: %.0f GB/s)\n", s.name, us, bytes / 1e6, bytes / (us * 1e3));
  }
}

}  // namespace

int test_model_ops(bool quick, Rng& rng) {
  int failures = 0;
  failures += test_rows(quick, rng);
  failures += test_attention(quick, rng);
  failures += test_model_op_errors();
  if (!quick) time_attention(rng);
  return failures;
}

}  // namespace fp4::cuda_test
