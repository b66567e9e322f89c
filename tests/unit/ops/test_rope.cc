// RoPE: frequency tables against Hugging Face transformers' own output (data/hf_rope_tables.json, written
// by hf_rope_tables.py) and against numbers worked by hand from the formulas; the rotation layouts against
// HF's expressions; config errors.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <fstream>
#include <map>
#include <numbers>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fp4/base/error.h"
#include "fp4/ops/rope.h"

namespace fp4 {
namespace {

RopeConfig deepseek_r1_rope() {
  RopeConfig c;
  c.rotary_dim = 64;
  c.theta = 10000.0;
  c.max_position_embeddings = 163840;
  c.scaling = RopeScalingType::kYarn;
  c.yarn.factor = 40.0;
  c.yarn.original_max_position_embeddings = 4096;
  c.yarn.beta_fast = 32.0;
  c.yarn.beta_slow = 1.0;
  c.yarn.mscale = 1.0;
  c.yarn.mscale_all_dim = 1.0;
  return c;
}

RopeConfig qwen3_8b_rope() {  // R1-0528-Qwen3-8B: yarn factor 4, original 32768, "attn_factor" (ignored by HF)
  RopeConfig c;
  c.rotary_dim = 128;
  c.theta = 1000000.0;
  c.max_position_embeddings = 131072;
  c.scaling = RopeScalingType::kYarn;
  c.yarn.factor = 4.0;
  c.yarn.original_max_position_embeddings = 32768;
  return c;
}

RopeConfig llama31_rope() {  // R1-Distill-Llama-8B
  RopeConfig c;
  c.rotary_dim = 128;
  c.theta = 500000.0;
  c.max_position_embeddings = 131072;
  c.scaling = RopeScalingType::kLlama3;
  c.llama3 = {.factor = 8.0, .low_freq_factor = 1.0, .high_freq_factor = 4.0, .original_max_position_embeddings = 8192};
  return c;
}

// The configs hf_rope_tables.py gave transformers, by case name.
std::map<std::string, RopeConfig> fixture_configs() {
  std::map<std::string, RopeConfig> m;
  m["deepseek_r1_yarn"] = deepseek_r1_rope();
  RopeConfig v2 = deepseek_r1_rope();
  v2.yarn.mscale = 0.707;
  v2.yarn.mscale_all_dim = 0.707;
  m["deepseek_v2_lite_yarn"] = v2;
  m["qwen3_8b_yarn"] = qwen3_8b_rope();
  RopeConfig no_original = qwen3_8b_rope();
  no_original.yarn.original_max_position_embeddings = 0;
  no_original.max_position_embeddings = 32768;
  m["qwen_yarn_no_original"] = no_original;
  m["llama31_8b_llama3"] = llama31_rope();
  RopeConfig plain;
  plain.rotary_dim = 128;
  plain.theta = 10000.0;
  m["qwen2_default_128"] = plain;
  RopeConfig linear = plain;
  linear.scaling = RopeScalingType::kLinear;
  linear.linear_factor = 4.0;
  m["llama_linear4"] = linear;
  return m;
}

float from_bits(int64_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits)); }

int64_t ulp_distance(float a, float b) {
  const auto ordered = [](float x) {
    const int32_t i = std::bit_cast<int32_t>(x);
    return i < 0 ? static_cast<int64_t>(INT32_MIN) - i : static_cast<int64_t>(i);
  };
  return std::llabs(ordered(a) - ordered(b));
}

nlohmann::json load_fixture() {
  const std::string path = std::string(FP4_SOURCE_DIR) + "/tests/unit/ops/data/hf_rope_tables.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing fixture " << path;
  return nlohmann::json::parse(in);
}

TEST(RopeTables, MatchTransformers) {
  const nlohmann::json fixture = load_fixture();
  const auto configs = fixture_configs();
  ASSERT_EQ(fixture["cases"].size(), configs.size());
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["name"];
    ASSERT_TRUE(configs.count(name)) << name;
    const RopeFrequencies f = rope_frequencies(configs.at(name));
    const auto& want = c["inv_freq_bits"];
    ASSERT_EQ(f.inv_freq.size(), want.size()) << name;
    // The table is built from f32 pow, divide and multiply in HF's order, so every step but one rounds
    // identically. The exception is pow: glibc's powf rounds correctly here while torch's vectorised pow
    // is a 1-ulp routine, and for an argument whose exact power lies within a few hundredths of an ulp of
    // a halfway point the two pick different neighbours (e.g. 1e6^(74/128) = 2942.72725..., 0.486 ulp
    // below 2942.7273). That ulp passes through the yarn/llama3 arithmetic unamplified (every later
    // step is a product or a convex blend), so each inv_freq must be within 1 ulp of HF's.
    RopeFrequencies hf;
    int exact = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      hf.inv_freq.push_back(from_bits(want[i]));
      EXPECT_LE(ulp_distance(f.inv_freq[i], hf.inv_freq[i]), 1)
          << name << " inv_freq[" << i << "] ours " << f.inv_freq[i] << " HF " << hf.inv_freq[i];
      exact += f.inv_freq[i] == hf.inv_freq[i] ? 1 : 0;
    }
    hf.attention_factor = static_cast<float>(c["attention_factor"].get<double>());
    EXPECT_EQ(f.attention_factor, hf.attention_factor) << name;

    // cos/sin from HF's own frequencies (so a pow ulp above, amplified by large positions, does not mix
    // in): the same f32 angle (one product), then libm cosf/sinf against torch's vectorised cos/sin. Each
    // is within 1 ulp of the true value of the same argument, so they differ by at most 2 ulp; times
    // attention_factor (one more rounding each side): at most 3 ulp.
    const std::vector<int32_t> positions = c["positions"].get<std::vector<int32_t>>();
    const size_t half = f.inv_freq.size();
    std::vector<float> cos(positions.size() * half), sin(positions.size() * half);
    cpu::rope_cos_sin(hf, positions.data(), static_cast<int64_t>(positions.size()), cos.data(), sin.data());
    int64_t worst = 0;
    for (size_t p = 0; p < positions.size(); ++p) {
      for (size_t i = 0; i < half; ++i) {
        const float pair[2][2] = {{cos[p * half + i], from_bits(c["cos_bits"][p][i])},
                                  {sin[p * half + i], from_bits(c["sin_bits"][p][i])}};
        for (const auto& [ours, theirs] : pair) {
          // Within 1e-3 of a zero of cos/sin, 1 ulp of the result is far below 1 ulp of the argument:
          // compare by absolute difference there, 2 ulp-of-1 (2^-23).
          if (std::fabs(theirs) > 1e-3f) {
            EXPECT_LE(ulp_distance(ours, theirs), 3) << name << " pos " << positions[p] << " i " << i;
            worst = std::max(worst, ulp_distance(ours, theirs));
          } else {
            EXPECT_LE(std::fabs(ours - theirs), 0x1p-23) << name << " pos " << positions[p] << " i " << i;
          }
        }
      }
    }
    std::printf("  %s: inv_freq %d/%zu bit-exact (rest 1 ulp), cos/sin worst %lld ulp vs transformers %s\n",
                name.c_str(), exact, want.size(), static_cast<long long>(worst),
                fixture["transformers"].get<std::string>().c_str());
  }
}

TEST(RopeTables, DeepSeekSoftmaxScaleMatchesTransformers) {
  const nlohmann::json fixture = load_fixture();
  // Hand check: 192^-0.5 · (0.1·ln 40 + 1)² = 0.0721688 · 1.3688879² = 0.0721688 · 1.8738542 = 0.1352338.
  const float scale = deepseek_softmax_scale(192, deepseek_r1_rope());
  EXPECT_EQ(scale, static_cast<float>(fixture["deepseek_r1_softmax_scale"].get<double>()));
  EXPECT_NEAR(scale, 0.13523378, 1e-8);
  RopeConfig plain;
  plain.rotary_dim = 64;
  EXPECT_EQ(deepseek_softmax_scale(192, plain), static_cast<float>(1.0 / std::sqrt(192.0)));
}

TEST(RopeTables, DeepSeekYarnWorkedExample) {
  // R1: dim 64, base 1e4, L0 4096, factor 40.
  //   corr(r) = 64·ln(4096 / (2π·r)) / (2·ln 1e4): corr(32) = 64·ln(20.372)/18.4207 = 10.47 → low = 10,
  //   corr(1) = 64·ln(651.90)/18.4207 = 22.51 → high = 23.
  //   i ≤ 10: ramp 0, the plain frequency 1e4^(−i/32); i ≥ 23: ramp 1, the frequency / 40.
  //   i = 16: pos_freq = 1e4^(32/64) = 100, ramp = (16 − 10)/13 = 6/13, so
  //   inv = (1/4000)·(6/13) + (1/100)·(7/13) = (0.0015 + 0.07)/13 = 0.0055.
  const RopeFrequencies f = rope_frequencies(deepseek_r1_rope());
  ASSERT_EQ(f.inv_freq.size(), 32u);
  EXPECT_EQ(f.attention_factor, 1.0f);  // mscale / mscale_all_dim = 1: the m² goes to the softmax scale
  for (int i = 0; i <= 10; ++i) {
    EXPECT_EQ(f.inv_freq[i], 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / 64.0f)) << i;
  }
  for (int i = 23; i < 32; ++i) {
    EXPECT_EQ(f.inv_freq[i], 1.0f / (40.0f * std::pow(10000.0f, static_cast<float>(2 * i) / 64.0f))) << i;
  }
  EXPECT_NEAR(f.inv_freq[16], 0.0055, 0.0055 * 1e-6);
  for (int i = 11; i < 23; ++i) {  // the blend is strictly between its two ends
    const float plain = 1.0f / std::pow(10000.0f, static_cast<float>(2 * i) / 64.0f);
    EXPECT_LT(f.inv_freq[i], plain) << i;
    EXPECT_GT(f.inv_freq[i], plain / 40.0f) << i;
  }
}

TEST(RopeTables, Qwen3YarnWorkedExample) {
  // dim 128, base 1e6, L0 32768: corr(32) = 128·ln(162.97)/27.631 = 23.60 → low 23; corr(1) = 39.65 → high 40.
  // No mscale: attention_factor = 0.1·ln 4 + 1 = 1.1386294 (HF reads "attention_factor", not "attn_factor").
  const RopeFrequencies f = rope_frequencies(qwen3_8b_rope());
  EXPECT_NEAR(f.attention_factor, 1.1386294, 1e-7);
  const float plain23 = 1.0f / std::pow(1000000.0f, 46.0f / 128.0f);
  const float plain40 = 1.0f / std::pow(1000000.0f, 80.0f / 128.0f);
  EXPECT_EQ(f.inv_freq[23], plain23);              // ramp 0 at low
  EXPECT_EQ(f.inv_freq[40], 1.0f / (4.0f * std::pow(1000000.0f, 80.0f / 128.0f)));  // ramp 1 at high
  EXPECT_LT(f.inv_freq[24], 1.0f / std::pow(1000000.0f, 48.0f / 128.0f));
  EXPECT_GT(f.inv_freq[39], plain40 / 4.0f);
}

TEST(RopeTables, Llama3WorkedExample) {
  // θ 5e5, dim 128, factor 8, low 1, high 4, L0 8192: wavelen_i = 2π·5e5^(i/64).
  //   i = 0: wavelen 2π < 2048 → unchanged, 1.0.  i = 63: wavelen ≈ 2.3e6 > 8192 → inv / 8.
  //   i = 32: inv = 5e5^-0.5 = 1.41421e-3, wavelen = 4442.88, smooth = (8192/4442.88 − 1)/3 = 0.281283,
  //   result = inv·((1 − smooth)/8 + smooth) = 1.41421e-3 · 0.371123 = 5.24847e-4.
  const RopeFrequencies f = rope_frequencies(llama31_rope());
  ASSERT_EQ(f.inv_freq.size(), 64u);
  EXPECT_EQ(f.inv_freq[0], 1.0f);
  EXPECT_EQ(f.inv_freq[63], (1.0f / std::pow(500000.0f, 126.0f / 128.0f)) / 8.0f);
  EXPECT_NEAR(f.inv_freq[32], 5.24847e-4, 5.24847e-4 * 2e-6);
  EXPECT_EQ(f.attention_factor, 1.0f);
}

TEST(RopeTables, RejectsUnusableConfigsWithTheField) {
  const auto message = [](const RopeConfig& c) {
    try {
      rope_frequencies(c);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  RopeConfig odd;
  odd.rotary_dim = 63;
  EXPECT_NE(message(odd).find("rotary dim"), std::string::npos) << message(odd);
  RopeConfig bad_theta;
  bad_theta.rotary_dim = 64;
  bad_theta.theta = 0.5;
  EXPECT_NE(message(bad_theta).find("rope_theta"), std::string::npos) << message(bad_theta);
  RopeConfig llama = llama31_rope();
  llama.llama3.high_freq_factor = 1.0;
  EXPECT_NE(message(llama).find("high_freq_factor"), std::string::npos) << message(llama);
  RopeConfig yarn = deepseek_r1_rope();
  yarn.yarn.original_max_position_embeddings = 0;
  yarn.max_position_embeddings = 0;
  EXPECT_NE(message(yarn).find("max_position_embeddings"), std::string::npos) << message(yarn);
  RopeConfig linear;
  linear.rotary_dim = 64;
  linear.scaling = RopeScalingType::kLinear;
  linear.linear_factor = -1;
  EXPECT_NE(message(linear).find("rope_scaling.factor"), std::string::npos) << message(linear);
}

// --- the rotation ---------------------------------------------------------------------------------------

TEST(RopeApply, HalfLayoutIsRotateHalf) {
  // HF: out = x·cos + rotate_half(x)·sin, rotate_half(x) = [−x2, x1].
  const std::vector<float> x0 = {1, 2, 3, 4, 5, 6};
  const std::vector<float> cos = {0.5f, 0.25f, -1.0f};
  const std::vector<float> sin = {0.75f, -0.5f, 0.125f};
  for (auto apply : {&cpu::apply_rope, &cpu::reference::apply_rope}) {
    std::vector<float> x = x0;
    apply(x.data(), 1, 1, 6, 6, 0, 6, cos.data(), sin.data(), cpu::RopeLayout::kHalf);
    const std::vector<float> want = {1 * 0.5f - 4 * 0.75f,    2 * 0.25f - 5 * -0.5f, 3 * -1.0f - 6 * 0.125f,
                                     4 * 0.5f + 1 * 0.75f,    5 * 0.25f + 2 * -0.5f, 6 * -1.0f + 3 * 0.125f};
    EXPECT_EQ(x, want);
  }
}

TEST(RopeApply, InterleavedMatchesHfDeepSeekAndPairsLayout) {
  // HF DeepSeek-V3: q1, q2 = q[0::2], q[1::2]; out = cat(q1·cos − q2·sin, q2·cos + q1·sin).
  const std::vector<float> x0 = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<float> cos = {0.5f, 0.25f, -1.0f, 0.875f};
  const std::vector<float> sin = {0.75f, -0.5f, 0.125f, 0.375f};
  std::vector<float> hf(8), pairs(8);
  for (int i = 0; i < 4; ++i) {
    const float a = x0[2 * i], b = x0[2 * i + 1];
    hf[i] = a * cos[i] - b * sin[i];
    hf[4 + i] = b * cos[i] + a * sin[i];
    pairs[2 * i] = hf[i];
    pairs[2 * i + 1] = hf[4 + i];
  }
  for (auto apply : {&cpu::apply_rope, &cpu::reference::apply_rope}) {
    std::vector<float> x = x0;
    apply(x.data(), 1, 1, 8, 8, 0, 8, cos.data(), sin.data(), cpu::RopeLayout::kInterleaved);
    EXPECT_EQ(x, hf);
    x = x0;
    apply(x.data(), 1, 1, 8, 8, 0, 8, cos.data(), sin.data(), cpu::RopeLayout::kInterleavedPairs);
    EXPECT_EQ(x, pairs);
  }
}

TEST(RopeApply, ScoresDependOnlyOnRelativePosition) {
  // Rotating q at position m and k at position n gives q·k that depends on m − n only: the property RoPE
  // exists for. Checked with the R1 yarn table, interleaved layout, for shifts of (m, n) by 1000.
  const RopeFrequencies f = rope_frequencies(deepseek_r1_rope());
  std::vector<float> q(64), k(64);
  for (int i = 0; i < 64; ++i) {
    q[i] = std::sin(0.37f * static_cast<float>(i) + 0.1f);
    k[i] = std::cos(0.21f * static_cast<float>(i) - 0.4f);
  }
  const auto score = [&](int32_t m, int32_t n) {
    std::vector<float> qr = q, kr = k, c(32), s(32);
    cpu::rope_cos_sin(f, &m, 1, c.data(), s.data());
    cpu::apply_rope(qr.data(), 1, 1, 64, 64, 0, 64, c.data(), s.data(), cpu::RopeLayout::kInterleaved);
    cpu::rope_cos_sin(f, &n, 1, c.data(), s.data());
    cpu::apply_rope(kr.data(), 1, 1, 64, 64, 0, 64, c.data(), s.data(), cpu::RopeLayout::kInterleaved);
    double dot = 0;
    for (int i = 0; i < 64; ++i) dot += static_cast<double>(qr[i]) * kr[i];
    return dot;
  };
  // The angles pos·inv_freq are rounded to f32 (relative 2^-24, absolute up to 2^-24·1007·1 ≈ 6e-5 rad at
  // position 1007 for inv_freq 1), which moves each rotated component by that much: |Δscore| ≤
  // Σ|q||k|·(Δθ_m + Δθ_n) ≤ 64·1·(2·6e-5) ≈ 8e-3 as a loose ceiling; 2e-3 is what it must stay under.
  EXPECT_NEAR(score(7, 3), score(1007, 1003), 2e-3);
  EXPECT_NEAR(score(3, 7), score(1003, 1007), 2e-3);
}

TEST(RopeApply, RejectsBadRotaryDim) {
  std::vector<float> x(8), c(4), s(4);
  EXPECT_THROW(cpu::apply_rope(x.data(), 1, 1, 8, 8, 0, 7, c.data(), s.data(), cpu::RopeLayout::kHalf), Error);
  EXPECT_THROW(cpu::apply_rope(x.data(), 1, 1, 8, 8, 0, 2048, c.data(), s.data(), cpu::RopeLayout::kHalf), Error);
  int32_t negative = -1;
  RopeConfig plain;
  plain.rotary_dim = 8;
  EXPECT_THROW(cpu::rope_cos_sin(rope_frequencies(plain), &negative, 1, c.data(), s.data()), Error);
}

}  // namespace
}  // namespace fp4
