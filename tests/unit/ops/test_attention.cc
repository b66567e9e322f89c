// Attention: a hand-computed case, causal masking, GQA head mapping, paged = contiguous, threads = inline,
// absorbed MLA = expanded MLA, and shape errors. Random shapes against the reference: test_op_harness.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/ops/attention.h"

namespace fp4::cpu {
namespace {

// Contiguous [T, H, D] strides for q/out (the library's causal_chunk_params) and [N, G, D] for K/V.
AttentionParams dense_params(int64_t T, int64_t past, int64_t H, int64_t G, int64_t dk, int64_t dv, float scale) {
  return causal_chunk_params(T, past, H, G, dk, dv, scale);
}

KvView dense_kv(const std::vector<float>& k, const std::vector<float>& v, int64_t G, int64_t dk, int64_t dv) {
  KvView kv;
  kv.k = k.data();
  kv.v = v.data();
  kv.k_token_stride = G * dk;
  kv.k_head_stride = dk;
  kv.v_token_stride = G * dv;
  kv.v_head_stride = dv;
  return kv;
}

std::vector<float> normals(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST(Attention, HandComputedTwoKeys) {
  // One head, dk = dv = 1, scale 1. Query 0 (position 0) sees key 0 only → out = v0 = 10.
  // Query 1 sees keys 0,1 with scores q1·k = 2·0 = 0 and 2·ln(3)/2 = ln 3 → p = [1/4, 3/4],
  // out = 10/4 + 30·3/4 = 25.
  const std::vector<float> q = {1.0f, 2.0f};
  const std::vector<float> k = {0.0f, std::log(3.0f) / 2.0f};
  const std::vector<float> v = {10.0f, 30.0f};
  const AttentionParams p = dense_params(2, 0, 1, 1, 1, 1, 1.0f);
  for (auto fn : {static_cast<void (*)(const AttentionParams&, const float*, const KvView&, float*)>(&attention),
                  &reference::attention}) {
    std::vector<float> out(2);
    fn(p, q.data(), dense_kv(k, v, 1, 1, 1), out.data());
    EXPECT_FLOAT_EQ(out[0], 10.0f);
    EXPECT_NEAR(out[1], 25.0f, 25.0f * 4e-7f);
  }
}

TEST(Attention, GqaQueryHeadReadsItsGroupsKvHead) {
  // H = 4 query heads on G = 2 kv heads must equal 4-head attention with each kv head repeated twice
  // (HF repeat_kv: q head h reads kv head h / 2).
  const int64_t T = 3, dk = 9, dv = 5;
  const std::vector<float> q = normals(T * 4 * dk, 1), k = normals(T * 2 * dk, 2), v = normals(T * 2 * dv, 3);
  std::vector<float> k_rep(T * 4 * dk), v_rep(T * 4 * dv);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < 4; ++h) {
      std::copy_n(k.begin() + (t * 2 + h / 2) * dk, dk, k_rep.begin() + (t * 4 + h) * dk);
      std::copy_n(v.begin() + (t * 2 + h / 2) * dv, dv, v_rep.begin() + (t * 4 + h) * dv);
    }
  }
  std::vector<float> gqa(T * 4 * dv), mha(T * 4 * dv);
  attention(dense_params(T, 0, 4, 2, dk, dv, 0.3f), q.data(), dense_kv(k, v, 2, dk, dv), gqa.data());
  attention(dense_params(T, 0, 4, 4, dk, dv, 0.3f), q.data(), dense_kv(k_rep, v_rep, 4, dk, dv), mha.data());
  EXPECT_EQ(gqa, mha);  // same rows, same arithmetic order
}

TEST(Attention, PagedEqualsContiguousAndThreadsEqualInline) {
  // 45 kv tokens in blocks of 8 scattered through a pool of 9 blocks (block table out of order).
  const int64_t past = 40, T = 5, H = 6, G = 3, dk = 20, dv = 12, block = 8, pool_blocks = 9;
  const int64_t n = past + T;
  const std::vector<float> q = normals(T * H * dk, 4), k = normals(n * G * dk, 5), v = normals(n * G * dv, 6);
  const std::vector<int32_t> table = {7, 2, 5, 0, 8, 3};  // 6 blocks cover 48 ≥ 45 tokens
  std::vector<float> k_pool(pool_blocks * block * G * dk, NAN), v_pool(pool_blocks * block * G * dv, NAN);
  for (int64_t u = 0; u < n; ++u) {
    const int64_t b = table[u / block], slot = u % block;
    std::copy_n(k.begin() + u * G * dk, G * dk, k_pool.begin() + (b * block + slot) * G * dk);
    std::copy_n(v.begin() + u * G * dv, G * dv, v_pool.begin() + (b * block + slot) * G * dv);
  }
  KvView paged = dense_kv(k_pool, v_pool, G, dk, dv);
  paged.block_table = table.data();
  paged.block_size = block;
  paged.k_block_stride = block * G * dk;
  paged.v_block_stride = block * G * dv;
  const AttentionParams p = dense_params(T, past, H, G, dk, dv, 0.25f);

  std::vector<float> contiguous(T * H * dv), from_pages(T * H * dv), threaded(T * H * dv);
  attention(p, q.data(), dense_kv(k, v, G, dk, dv), contiguous.data());
  attention(p, q.data(), paged, from_pages.data());
  ThreadPool pool(3);
  attention(pool, p, q.data(), paged, threaded.data());
  EXPECT_EQ(contiguous, from_pages);  // NaN-filled unused slots were never read
  EXPECT_EQ(contiguous, threaded);
}

TEST(Attention, CausalQueryIgnoresLaterKeys) {
  // Changing key/value rows after a query's position must not change that query's output.
  const int64_t T = 6, dk = 8, dv = 8;
  const std::vector<float> q = normals(T * dk, 7);
  std::vector<float> k = normals(T * dk, 8), v = normals(T * dv, 9);
  const AttentionParams p = dense_params(T, 0, 1, 1, dk, dv, 0.35f);
  std::vector<float> before(T * dv), after(T * dv);
  attention(p, q.data(), dense_kv(k, v, 1, dk, dv), before.data());
  for (int64_t i = 3 * dk; i < T * dk; ++i) k[i] += 5.0f;
  for (int64_t i = 3 * dv; i < T * dv; ++i) v[i] -= 7.0f;
  attention(p, q.data(), dense_kv(k, v, 1, dk, dv), after.data());
  for (int64_t i = 0; i < 3 * dv; ++i) EXPECT_EQ(before[i], after[i]) << i;
  for (int64_t i = 3 * dv; i < T * dv; ++i) EXPECT_NE(before[i], after[i]) << i;
}

TEST(Attention, AbsorbedMlaEqualsExpandedMla) {
  // Per head h: k_nope_h(u) = W_UK[h]·c_u, v_h(u) = W_UV[h]·c_u (c: latent [L]). Expanded: scores over
  // [q_nope; q_pe]·[k_nope; k_pe], out = Σ p·v_h. Absorbed: q_lat = W_UK[h]ᵀ·q_nope, scores over
  // [q_lat; q_pe]·[c; k_pe] (one shared kv head), o_lat = Σ p·c, out = W_UV[h]·o_lat. Equal in exact
  // arithmetic; in f32 they differ by reassociation only.
  const int64_t H = 3, P = 16, R = 8, V = 12, L = 24, T = 4, past = 9, n = past + T;
  std::vector<float> w_uk = normals(H * P * L, 10);
  const std::vector<float> w_uv = normals(H * V * L, 11);
  for (float& x : w_uk) x *= 0.2f;  // keep scores O(1)
  const std::vector<float> c = normals(n * L, 12), k_pe = normals(n * R, 13);
  const std::vector<float> q_nope = normals(T * H * P, 14), q_pe = normals(T * H * R, 15);
  const float scale = 0.2f;

  // Expanded inputs: q [T, H, P+R], K [n, H, P+R], V [n, H, V].
  std::vector<float> q_exp(T * H * (P + R)), k_exp(n * H * (P + R)), v_exp(n * H * V);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      std::copy_n(q_nope.begin() + (t * H + h) * P, P, q_exp.begin() + (t * H + h) * (P + R));
      std::copy_n(q_pe.begin() + (t * H + h) * R, R, q_exp.begin() + (t * H + h) * (P + R) + P);
    }
  }
  for (int64_t u = 0; u < n; ++u) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < P; ++i) {
        double s = 0;
        for (int64_t j = 0; j < L; ++j) s += static_cast<double>(w_uk[(h * P + i) * L + j]) * c[u * L + j];
        k_exp[(u * H + h) * (P + R) + i] = static_cast<float>(s);
      }
      std::copy_n(k_pe.begin() + u * R, R, k_exp.begin() + (u * H + h) * (P + R) + P);
      for (int64_t i = 0; i < V; ++i) {
        double s = 0;
        for (int64_t j = 0; j < L; ++j) s += static_cast<double>(w_uv[(h * V + i) * L + j]) * c[u * L + j];
        v_exp[(u * H + h) * V + i] = static_cast<float>(s);
      }
    }
  }
  std::vector<float> expanded(T * H * V);
  reference::attention(dense_params(T, past, H, H, P + R, V, scale), q_exp.data(), dense_kv(k_exp, v_exp, H, P + R, V),
                       expanded.data());

  // Absorbed inputs: q [T, H, L+R], cache [n, L+R] = [c; k_pe], V = the first L values of each cache row.
  std::vector<float> q_abs(T * H * (L + R)), cache(n * (L + R));
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t j = 0; j < L; ++j) {
        double s = 0;
        for (int64_t i = 0; i < P; ++i) s += static_cast<double>(w_uk[(h * P + i) * L + j]) * q_nope[(t * H + h) * P + i];
        q_abs[(t * H + h) * (L + R) + j] = static_cast<float>(s);
      }
      std::copy_n(q_pe.begin() + (t * H + h) * R, R, q_abs.begin() + (t * H + h) * (L + R) + L);
    }
  }
  for (int64_t u = 0; u < n; ++u) {
    std::copy_n(c.begin() + u * L, L, cache.begin() + u * (L + R));
    std::copy_n(k_pe.begin() + u * R, R, cache.begin() + u * (L + R) + L);
  }
  KvView latent;
  latent.k = latent.v = cache.data();
  latent.k_token_stride = latent.v_token_stride = L + R;
  std::vector<float> o_lat(T * H * L);
  attention(dense_params(T, past, H, 1, L + R, L, scale), q_abs.data(), latent, o_lat.data());

  // out = W_UV[h]·o_lat and compare. The paths round different intermediates (k_nope vs q_lat, v vs
  // o_lat: each one f32 rounding of an exact ≤ 24-term dot product) and then run f32 attention sums of
  // ≤ 24-term dots over 13 keys. Each rounding is ≤ γ_24 ≈ 1.4e-6 relative to the Σ|terms| it came
  // from; with unit-normal inputs those sums are ≤ ~10·(1 + |out|), so the paths differ by ≲ 1.4e-5·
  // (1 + |out|). Allowed: 2e-5·(1 + |out|).
  double worst = 0;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < V; ++i) {
        double s = 0;
        for (int64_t j = 0; j < L; ++j) s += static_cast<double>(w_uv[(h * V + i) * L + j]) * o_lat[(t * H + h) * L + j];
        const double want = expanded[(t * H + h) * V + i];
        EXPECT_NEAR(s, want, 2e-5 * (1 + std::fabs(want))) << t << " " << h << " " << i;
        worst = std::max(worst, std::fabs(s - want) / (1 + std::fabs(want)));
      }
    }
  }
  std::printf("  absorbed vs expanded MLA: worst |Δ|/(1+|out|) = %.2e\n", worst);
}

TEST(Attention, RejectsInconsistentShapesNamingTheField) {
  const std::vector<float> buf(64, 0.0f);
  std::vector<float> out(64);
  const auto message = [&](AttentionParams p, KvView kv) {
    try {
      attention(p, buf.data(), kv, out.data());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const KvView kv = dense_kv(buf, buf, 1, 4, 4);
  AttentionParams p = dense_params(2, 0, 2, 1, 4, 4, 0.5f);
  EXPECT_EQ(message(p, kv), "no error");
  AttentionParams beyond = p;
  beyond.num_kv = 1;
  EXPECT_NE(message(beyond, kv).find("only 1 kv tokens are readable"), std::string::npos) << message(beyond, kv);
  AttentionParams groups = dense_params(1, 0, 3, 2, 4, 4, 0.5f);
  EXPECT_NE(message(groups, kv).find("multiple of num_kv_heads"), std::string::npos) << message(groups, kv);
  AttentionParams scale = p;
  scale.softmax_scale = NAN;
  EXPECT_NE(message(scale, kv).find("softmax_scale"), std::string::npos) << message(scale, kv);
  KvView no_block = kv;
  const int32_t table[1] = {0};
  no_block.block_table = table;
  EXPECT_NE(message(p, no_block).find("block_size"), std::string::npos) << message(p, no_block);
  KvView null_v = kv;
  null_v.v = nullptr;
  EXPECT_NE(message(p, null_v).find("non-null"), std::string::npos) << message(p, null_v);
}

}  // namespace
}  // namespace fp4::cpu
