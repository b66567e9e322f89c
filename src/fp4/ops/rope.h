// Rotary position embedding: frequency tables (default, linear, YaRN, Llama-3) computed the way Hugging Face
// transformers 5.x computes them in fp32 (modeling_rope_utils.py), and the rotation itself in the layouts
// the supported models use.
//
// Table math, step by step as HF does it (every tensor op below is f32, Python scalars are doubles that
// are rounded to f32 when they meet a tensor):
//   pos_freq[i] = powf(theta, float(2i) / float(dim)),   inv_freq[i] = 1 / pos_freq[i],   i < dim/2
//   linear: inv_freq[i] = inv_freq[i] / float(factor)
//   yarn, llama3: see rope_frequencies() in rope.cc, which follows HF line by line.
// cos/sin per position (HF *RotaryEmbedding.forward): freq = float(pos) · inv_freq[i] (one f32 product),
// cos = cosf(freq) · attention_factor, sin = sinf(freq) · attention_factor.
// Agreement with torch: pow, cos and sin come from libm (powf rounds correctly here); torch uses 1-ulp
// vectorised routines whose choice depends on the CPU. Against transformers 5.17 every inv_freq of the
// tested configs matches bit for bit except where torch's pow rounds an almost-halfway case the other
// way (1 ulp), and cos/sin agree within 2 ulp (tests/unit/ops/test_rope.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace fp4 {

enum class RopeScalingType : uint8_t { kNone, kLinear, kYarn, kLlama3 };

// rope_scaling {"type"/"rope_type": "yarn", ...}. Absent optional fields keep HF's defaults.
struct RopeYarnParams {
  double factor = 0.0;                           // rope_scaling["factor"]; 0 = absent (HF then uses
                                                 // max_position_embeddings / original_max_position_embeddings)
  int64_t original_max_position_embeddings = 0;  // 0 = absent (HF then uses max_position_embeddings)
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 0.0;          // 0 = absent
  double mscale_all_dim = 0.0;  // 0 = absent
  std::optional<double> attention_factor;  // rope_scaling["attention_factor"] (not "attn_factor")
  bool truncate = true;                    // rope_scaling["truncate"]
};

// rope_scaling {"rope_type": "llama3", ...}
struct RopeLlama3Params {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct RopeConfig {
  int64_t rotary_dim = 0;               // rotated dims per head: head_dim × partial_rotary_factor (even)
  double theta = 10000.0;               // rope_theta
  int64_t max_position_embeddings = 0;  // config.max_position_embeddings (YaRN reads it)
  RopeScalingType scaling = RopeScalingType::kNone;
  double linear_factor = 1.0;  // kLinear: rope_scaling["factor"]
  RopeYarnParams yarn;         // kYarn
  RopeLlama3Params llama3;     // kLlama3
};

struct RopeFrequencies {
  std::vector<float> inv_freq;  // [rotary_dim / 2]
  float attention_factor = 1.0f;  // HF "attention_scaling": multiplies both cos and sin
};

// Builds the table; throws fp4::Error naming the rope field when the config is unusable
// (odd or non-positive rotary_dim, theta ≤ 1, factor ≤ 0, llama3 high_freq_factor ≤ low_freq_factor, ...).
RopeFrequencies rope_frequencies(const RopeConfig& config);

// HF/DeepSeek yarn_get_mscale: 1 when scale ≤ 1, else 0.1 · mscale · ln(scale) + 1 (double math).
double yarn_get_mscale(double scale, double mscale);

// DeepSeek-V2/V3 attention softmax scale (HF DeepseekV3Attention.scaling):
//   qk_head_dim^-0.5, times m² with m = yarn_get_mscale(rope_scaling["factor"], mscale_all_dim) when the
//   config is YaRN with a non-zero mscale_all_dim. Uses the raw factor (40 for R1), computed in double and
//   rounded once to f32 (HF multiplies the f32 scores by this Python float). R1: 0.13523378.
float deepseek_softmax_scale(int64_t qk_head_dim, const RopeConfig& config);

}  // namespace fp4

namespace fp4::cpu {

enum class RopeLayout : uint8_t {
  // rotate_half (Llama, Qwen2, Qwen3): pairs (i, i + d/2).
  //   out[i] = x[i]·c_i − x[i+d/2]·s_i,  out[i+d/2] = x[i+d/2]·c_i + x[i]·s_i
  kHalf,
  // DeepSeek with rope_interleave = true, exactly as HF's apply_rotary_pos_emb_interleave: pairs
  // (2i, 2i+1) are rotated and the result is written DE-INTERLEAVED (HF permutes to [x0,x2,..,x1,x3,..]
  // before rotate_half):  out[i] = x[2i]·c_i − x[2i+1]·s_i,  out[i+d/2] = x[2i+1]·c_i + x[2i]·s_i.
  // Dot products between two vectors rotated this way equal those of kInterleavedPairs.
  kInterleaved,
  // DeepSeek reference (inference/model.py) layout: pairs (2i, 2i+1) rotated and written back in place.
  //   out[2i] = x[2i]·c_i − x[2i+1]·s_i,  out[2i+1] = x[2i+1]·c_i + x[2i]·s_i
  kInterleavedPairs,
};

// cos, sin: [tokens, rotary_dim/2] f32 with cos[t, i] = cosf(float(positions[t]) · inv_freq[i]) ·
// attention_factor (same for sin). positions: [tokens], each ≥ 0. Plain libm calls: this table is tiny
// next to the rotation and is itself the reference (HF calls torch.cos/sin on the same f32 arguments).
void rope_cos_sin(const RopeFrequencies& freqs, const int32_t* positions, int64_t tokens, float* cos,
                  float* sin);

// Rotates, in place, dims [rot_offset, rot_offset + rotary_dim) of every head of every token:
//   head h of token t starts at x + t·token_stride + h·head_stride.
// cos, sin: [tokens, rotary_dim/2] from rope_cos_sin. Each product and the final add/sub are separate
// f32 roundings (no fused multiply-add), exactly HF's (x·cos) + (rotate(x)·sin).
// Examples: Llama q [T, H, 128]: token_stride H·128, head_stride 128, rot_offset 0, rotary_dim 128.
//           DeepSeek q [T, H, 192]: head_stride 192, rot_offset 128, rotary_dim 64, kInterleaved.
//           DeepSeek k_pe inside kv_a output [T, 576]: heads 1, token_stride 576, rot_offset 512.
void apply_rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride,
                int64_t rot_offset, int64_t rotary_dim, const float* cos, const float* sin, RopeLayout layout);

namespace reference {
void apply_rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride,
                int64_t rot_offset, int64_t rotary_dim, const float* cos, const float* sin, RopeLayout layout);
}  // namespace reference

}  // namespace fp4::cpu
