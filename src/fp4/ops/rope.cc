// RoPE frequency tables, computed in the same precision and order as Hugging Face transformers 5.x
// (modeling_rope_utils.py; tests/unit/ops/data/hf_rope_tables.json holds 5.17's tables). Each tensor expression there runs in f32; Python scalars are doubles that
// torch rounds to f32 when they meet an f32 tensor. `a / tensor` in torch is reciprocal(tensor) · a, which
// we reproduce because it rounds differently from a direct division.
#include "fp4/ops/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "fp4/base/error.h"

namespace fp4 {
namespace {

// torch: base ** (torch.arange(0, dim, 2).float() / dim) → f32 exponent, f32 pow.
std::vector<float> default_pos_freqs(double theta, int64_t dim) {
  std::vector<float> pos_freq(static_cast<size_t>(dim / 2));
  const float base = static_cast<float>(theta);
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    pos_freq[static_cast<size_t>(i)] = std::pow(base, exponent);
  }
  return pos_freq;
}

// torch's `scalar / tensor` = reciprocal(tensor) * scalar, two f32 roundings.
float scalar_over(double scalar, float value) { return (1.0f / value) * static_cast<float>(scalar); }

// HF find_correction_dim (pure Python, double): dim·ln(L0 / (r·2π)) / (2·ln base).
double yarn_correction_dim(double num_rotations, int64_t dim, double base, double original_max_positions) {
  return (static_cast<double>(dim) * std::log(original_max_positions / (num_rotations * 2.0 * std::numbers::pi))) /
         (2.0 * std::log(base));
}

RopeFrequencies yarn_frequencies(const RopeConfig& config) {
  const RopeYarnParams& yarn = config.yarn;
  const int64_t dim = config.rotary_dim;
  FP4_CHECK(yarn.beta_fast > 0.0 && yarn.beta_slow > 0.0,
            "rope_scaling.beta_fast/beta_slow: expected > 0, got {} / {}", yarn.beta_fast, yarn.beta_slow);

  // transformers 5.x: factor as the config gives it; only when it is absent, max_position_embeddings /
  // original_max_position_embeddings. original_max_position_embeddings defaults to max_position_embeddings.
  // (4.5x recomputed the factor from that ratio whenever original_max_position_embeddings was present;
  // both agree for every shipped config, where factor = max / original.)
  double original_max_positions = static_cast<double>(yarn.original_max_position_embeddings);
  if (yarn.original_max_position_embeddings <= 0) {
    FP4_CHECK(config.max_position_embeddings > 0,
              "max_position_embeddings: required by yarn rope_scaling without original_max_position_embeddings");
    original_max_positions = static_cast<double>(config.max_position_embeddings);
  }
  double factor = yarn.factor;
  if (factor == 0.0) {
    FP4_CHECK(config.max_position_embeddings > 0,
              "max_position_embeddings: required by yarn rope_scaling without factor");
    factor = static_cast<double>(config.max_position_embeddings) / original_max_positions;
  }
  FP4_CHECK(factor > 0.0, "rope_scaling.factor: expected > 0 for yarn, got {}", factor);

  RopeFrequencies out;
  if (yarn.attention_factor.has_value()) {
    out.attention_factor = static_cast<float>(*yarn.attention_factor);
  } else if (yarn.mscale != 0.0 && yarn.mscale_all_dim != 0.0) {
    out.attention_factor =
        static_cast<float>(yarn_get_mscale(factor, yarn.mscale) / yarn_get_mscale(factor, yarn.mscale_all_dim));
  } else {
    out.attention_factor = static_cast<float>(yarn_get_mscale(factor, 1.0));
  }

  double low = yarn_correction_dim(yarn.beta_fast, dim, config.theta, original_max_positions);
  double high = yarn_correction_dim(yarn.beta_slow, dim, config.theta, original_max_positions);
  if (yarn.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // HF linear_ramp_factor: "prevent singularity"

  const std::vector<float> pos_freq = default_pos_freqs(config.theta, dim);
  const float factor_f = static_cast<float>(factor);
  const float low_f = static_cast<float>(low);
  const float range_f = static_cast<float>(high - low);  // (max - min) is a Python double, then one f32 rounding
  out.inv_freq.resize(pos_freq.size());
  for (size_t i = 0; i < pos_freq.size(); ++i) {
    const float inv_extrapolation = 1.0f / pos_freq[i];
    const float inv_interpolation = 1.0f / (factor_f * pos_freq[i]);
    const float ramp = std::clamp((static_cast<float>(i) - low_f) / range_f, 0.0f, 1.0f);
    const float extrapolation_weight = 1.0f - ramp;
    const float interpolation_part = inv_interpolation * (1.0f - extrapolation_weight);
    const float extrapolation_part = inv_extrapolation * extrapolation_weight;
    out.inv_freq[i] = interpolation_part + extrapolation_part;
  }
  return out;
}

RopeFrequencies llama3_frequencies(const RopeConfig& config) {
  const RopeLlama3Params& p = config.llama3;
  FP4_CHECK(p.factor > 0.0, "rope_scaling.factor: expected > 0 for llama3, got {}", p.factor);
  FP4_CHECK(p.low_freq_factor > 0.0, "rope_scaling.low_freq_factor: expected > 0, got {}", p.low_freq_factor);
  FP4_CHECK(p.high_freq_factor > p.low_freq_factor,
            "rope_scaling.high_freq_factor: expected > low_freq_factor ({}), got {}", p.low_freq_factor,
            p.high_freq_factor);
  FP4_CHECK(p.original_max_position_embeddings > 0,
            "rope_scaling.original_max_position_embeddings: expected > 0 for llama3, got {}",
            p.original_max_position_embeddings);

  const double old_context = static_cast<double>(p.original_max_position_embeddings);
  // Python doubles compared against an f32 tensor: torch rounds the scalar to f32.
  const float low_freq_wavelen = static_cast<float>(old_context / p.low_freq_factor);
  const float high_freq_wavelen = static_cast<float>(old_context / p.high_freq_factor);
  const float factor = static_cast<float>(p.factor);
  const float low_freq_factor = static_cast<float>(p.low_freq_factor);
  const float factor_span = static_cast<float>(p.high_freq_factor - p.low_freq_factor);

  const std::vector<float> pos_freq = default_pos_freqs(config.theta, config.rotary_dim);
  RopeFrequencies out;
  out.inv_freq.resize(pos_freq.size());
  for (size_t i = 0; i < pos_freq.size(); ++i) {
    const float inv_freq = 1.0f / pos_freq[i];
    const float wavelen = scalar_over(2.0 * std::numbers::pi, inv_freq);
    // torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    const float scaled = wavelen > low_freq_wavelen ? inv_freq / factor : inv_freq;
    const float smooth = (scalar_over(old_context, wavelen) - low_freq_factor) / factor_span;
    // (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama, left to right.
    const float smoothed = ((1.0f - smooth) * scaled) / factor + smooth * scaled;
    const bool is_medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    out.inv_freq[i] = is_medium ? smoothed : scaled;
  }
  return out;
}

}  // namespace

double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

RopeFrequencies rope_frequencies(const RopeConfig& config) {
  FP4_CHECK(config.rotary_dim > 0 && config.rotary_dim % 2 == 0,
            "rope: rotary dim (head_dim × partial_rotary_factor) must be a positive even number, got {}",
            config.rotary_dim);
  FP4_CHECK(std::isfinite(config.theta) && config.theta > 1.0, "rope_theta: expected a finite value > 1, got {}",
            config.theta);
  switch (config.scaling) {
    case RopeScalingType::kNone: {
      RopeFrequencies out;
      for (float f : default_pos_freqs(config.theta, config.rotary_dim)) out.inv_freq.push_back(1.0f / f);
      return out;
    }
    case RopeScalingType::kLinear: {
      FP4_CHECK(config.linear_factor > 0.0, "rope_scaling.factor: expected > 0 for linear, got {}",
                config.linear_factor);
      RopeFrequencies out;
      const float factor = static_cast<float>(config.linear_factor);
      for (float f : default_pos_freqs(config.theta, config.rotary_dim)) out.inv_freq.push_back((1.0f / f) / factor);
      return out;
    }
    case RopeScalingType::kYarn:
      return yarn_frequencies(config);
    case RopeScalingType::kLlama3:
      return llama3_frequencies(config);
  }
  fail("rope_scaling: unknown scaling type {}", static_cast<int>(config.scaling));
}

float deepseek_softmax_scale(int64_t qk_head_dim, const RopeConfig& config) {
  FP4_CHECK(qk_head_dim > 0, "qk_head_dim: expected > 0, got {}", qk_head_dim);
  double scale = std::pow(static_cast<double>(qk_head_dim), -0.5);
  if (config.scaling == RopeScalingType::kYarn && config.yarn.mscale_all_dim != 0.0) {
    const double m = yarn_get_mscale(config.yarn.factor, config.yarn.mscale_all_dim);
    scale = scale * m * m;
  }
  return static_cast<float>(scale);
}

}  // namespace fp4
