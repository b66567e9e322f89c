// How a checkpoint's linears are quantized, from whichever description it carries
// (specs/nvfp4_format.md §1.1, §3):
//   - DeepSeek FP8 block: config.json `quantization_config` {quant_method "fp8", fmt "e4m3",
//     weight_block_size [128, 128], activation_scheme "dynamic"}.
//   - ModelOpt NVFP4, legacy shape: hf_quant_config.json {producer, quantization {quant_algo "NVFP4",
//     kv_cache_quant_algo, group_size, exclude_modules}}.
//   - ModelOpt NVFP4, inline shape: config.json `quantization_config` {quant_method "modelopt", quant_algo,
//     config_groups.group_0.weights.group_size, ignore, kv_cache_scheme}.
// config.json's block wins over hf_quant_config.json (vLLM does the same).
//
// Exclusions are applied per tensor: a pattern (fnmatch-style `*`/`?`, or a plain module prefix) is
// matched against the module name and the tensor name, so every linear resolves to one encoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/ops/weight.h"

namespace fp4::io {

class HfCheckpoint;

enum class QuantMethod : uint8_t {
  kNone,            // every weight in a float dtype
  kFP8Block,        // DeepSeek FP8 block
  kModelOptNVFP4,   // ModelOpt NVFP4
};
std::string_view quant_method_name(QuantMethod m);

// What the quant config says about one linear module.
enum class LinearQuant : uint8_t {
  kUnquantized,  // stored in a float dtype (BF16 / F16 / F32)
  kFP8Block,
  kNVFP4,
};
std::string_view linear_quant_name(LinearQuant q);

struct QuantConfig {
  QuantMethod method = QuantMethod::kNone;
  std::string source;  // "DIR/config.json" or "DIR/hf_quant_config.json"; empty for kNone

  // kFP8Block
  int32_t block_rows = 128;
  int32_t block_cols = 128;
  std::string activation_scheme;  // "dynamic"

  // kModelOptNVFP4
  int32_t group_size = 16;
  std::string quant_algo;            // "NVFP4"
  std::string kv_cache_quant_algo;   // "FP8" or empty
  std::string producer;              // "modelopt 0.31.0"

  // Modules left unquantized (exclude_modules / ignore / modules_to_not_convert), as written.
  std::vector<std::string> exclude_patterns;
  // quant_algo MIXED_PRECISION: only the modules listed in `quantized_layers` are NVFP4.
  bool mixed_precision = false;
  std::vector<std::string> quantized_layers;

  // The encoding `module` (e.g. "model.layers.3.mlp.experts.7.up_proj") must be stored in.
  LinearQuant resolve(std::string_view module) const;
  // True when an exclude pattern covers the module or its weight tensor "<module>.weight".
  bool is_excluded(std::string_view module) const;
};

// fnmatch-style match of `*` (any run, dots included) and `?` (one character); no character classes.
bool glob_match(std::string_view pattern, std::string_view text);

// Parses the quantization description from config.json text and (optionally empty) hf_quant_config.json
// text. `dir` names the folder in messages. Unknown quant methods/algorithms are rejected by name.
QuantConfig parse_quant_config(std::string_view config_json, std::string_view hf_quant_config_json,
                               std::string_view dir);

// Reads DIR/config.json and DIR/hf_quant_config.json (if present).
QuantConfig load_quant_config(const std::string& dir);

// Binds the tensors of linear `module` ("<module>.weight" and its companions) to a WeightView, checking
// every dtype and shape against the stored encoding and the expected [rows = out, cols = in]:
//   BF16/F16/F32: weight [rows, cols].
//   FP8 block:    weight F8_E4M3 [rows, cols]; weight_scale_inv F32 [ceil(rows/br), ceil(cols/bc)].
//   NVFP4:        weight U8 [rows, cols/2]; weight_scale F8_E4M3 [rows, cols/16]; weight_scale_2 F32 [] (or
//                 [1]), finite and > 0; input_scale F32 [] optional, finite and > 0 when present.
// The stored encoding must agree with quant.resolve(module), except that a module the config would
// quantize may be stored unquantized when it is not a ModelOpt-quantizable linear (router, lm_head).
// Pass rows/cols < 0 to accept the stored shape. Throws fp4::Error naming the tensor on any mismatch.
WeightView bind_linear(const HfCheckpoint& ckpt, const QuantConfig& quant, std::string_view module,
                       int64_t rows, int64_t cols);

}  // namespace fp4::io
