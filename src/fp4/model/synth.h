// Synthetic checkpoints: random weights of a real model's shapes in a loadable Hugging Face folder, in
// BF16, DeepSeek FP8 block or ModelOpt NVFP4 (DeepSeek-R1-0528-FP4 recipe: attention, router, embeddings
// and lm_head BF16; dense and expert MLPs NVFP4), for DeepSeek (MLA + MoE) and Llama/Qwen (GQA) shapes,
// so that big-model speed can be measured without downloads. Values are statistically realistic, not
// trained:
//   BF16 linears N(0, 1/fan_in); FP8 codes of N(0, 1) scaled so a 128×128 block's amax lands near 448,
//   with weight_scale_inv = σ·amax/448; NVFP4 codes distributed as a Gaussian block quantized with its
//   amax at 6, block scales E4M3 spread as real ones are (block amax / tensor amax), weight_scale_2 =
//   tensor amax / (6·448); norm weights near 1; router correction biases in [2, 3] as in V3/R1.
// Generation is table-driven and parallel, deterministic for a seed whatever the thread count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fp4/base/thread_pool.h"

namespace fp4::model {

enum class SynthEncoding : uint8_t { kBF16, kFP8, kNVFP4 };

// config.json text of a known shape ("deepseek-v2-lite", "deepseek-r1", "llama-3.1-8b"), with
// num_hidden_layers set to `layers` when > 0. Throws fp4::Error naming the accepted shapes for anything else.
std::string synth_config_json(std::string_view like, int64_t layers);

struct SynthReport {
  int64_t tensors = 0;
  uint64_t bytes = 0;  // tensor data written
  int shards = 0;
};

// Writes config.json (+ quantization description) and the weights for `config_json` into out_dir
// (created; must not already hold a config.json).
SynthReport write_synthetic_checkpoint(const std::string& config_json, SynthEncoding encoding, uint64_t seed,
                                       const std::string& out_dir, ThreadPool& pool);

}  // namespace fp4::model
