// The plan of one quantization run: what every output tensor is and where its bytes come from. It is
// built and validated completely before any output exists, so bad input fails with nothing written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/model_config.h"
#include "fp4/quant/quantizer.h"

namespace fp4::quant {

// How the input stores one linear's weight.
enum class SourceEncoding : uint8_t { kBF16, kF16, kF32, kFP8Block };

struct LinearSource {
  std::string module;       // "model.layers.0.mlp.down_proj"
  SourceEncoding encoding = SourceEncoding::kBF16;
  int64_t rows = 0;         // out features
  int64_t cols = 0;         // in features
};

enum class Action : uint8_t {
  kCopy,         // bytes copied unchanged
  kFp8ToBf16,    // FP8 block weight left unquantized: written as its BF16 dequantization
  kNvfp4,        // weight + weight_scale + weight_scale_2 + input_scale
  kFp8Block,     // weight + weight_scale_inv
};

struct PlannedItem {
  Action action = Action::kCopy;
  std::string name;    // kCopy: tensor name; otherwise the module
  LinearSource linear; // all but kCopy
  std::vector<std::string> fused_group;  // NVFP4: modules sharing weight_scale_2 (incl. this one)
};

struct Plan {
  io::ModelConfig config;
  Recipe recipe = Recipe::kAllLinear;
  std::vector<PlannedItem> items;         // in output order
  std::vector<io::TensorSpec> outputs;    // every output tensor, declared up front
  std::map<std::string, LinearSource> linears;  // every linear of the input by module
  std::vector<std::string> quantized;     // modules converted
  std::vector<std::string> exclude_modules;  // unquantized linears, compressed to ModelOpt-style patterns
};

// Validates the input against the options and builds the plan. Throws fp4::Error naming the tensor.
Plan make_plan(const io::HfCheckpoint& ckpt, const QuantizeOptions& options);

// Writes OUT_TMP/config.json, hf_quant_config.json (NVFP4) and copies the folder's other files.
void write_metadata_files(const Plan& plan, const QuantizeOptions& options, const std::string& out_dir);

// Writes OUT_TMP/report.md from the summary.
void write_report(const Plan& plan, const QuantizeOptions& options, const QuantizeSummary& summary,
                  const std::string& out_dir);

}  // namespace fp4::quant
