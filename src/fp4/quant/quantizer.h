// `fp4serve quantize`: a BF16/F16/F32 or DeepSeek-FP8 Hugging Face checkpoint → an NVFP4 checkpoint in
// ModelOpt's layout, or a DeepSeek FP8 block checkpoint (specs/nvfp4_format.md §1, §3).
//
// Streaming: the input is memory-mapped and read one linear at a time in bands of 128 rows; each band is
// dequantized to f32 (FP8 input: f32(code)·scale_inv rounded to BF16, the BF16 tensor ModelOpt's DeepSeek
// converter quantizes), encoded and appended to the output shard at once, so the memory the run holds is
// a few bands, not a tensor. Mapped input pages are dropped after each tensor.
//
// Atomic: everything is written into a hidden sibling folder that is renamed to OUT only after the last
// byte; any failure removes it, so OUT either is complete or does not exist.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fp4/quant/nvfp4_codec.h"
#include "fp4/quant/recipe.h"

namespace fp4::quant {

enum class OutputFormat : uint8_t { kNvfp4, kFp8Block };

struct QuantizeOptions {
  std::string input_dir;
  std::string output_dir;
  OutputFormat format = OutputFormat::kNvfp4;
  std::optional<Recipe> recipe;  // unset: r1-fp4 for DeepSeek NVFP4 output, all-linear otherwise
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  BlockScaleCast scale_cast = BlockScaleCast::kClamped;
  GlobalScaleArith global_scale_arith = GlobalScaleArith::kCudaReciprocal;
  // Also write the ModelOpt ≥0.31 inline config.json quantization_config (hf_quant_config.json is always
  // written for NVFP4).
  bool inline_quantization_config = false;
  // Activation amax assumed for input_scale = amax/(6·448) when there is no calibration. 2688 gives
  // input_scale 1.0: see docs/quantizer.md for why this is the safe default.
  float default_input_amax = 2688.0f;
  // Calibrated activation amax per module (quant/calibration.h); a fused group takes the largest of its
  // members. Modules missing here (or with amax 0) use default_input_amax.
  std::map<std::string, float> input_amax;
  std::string calibration_summary;  // one line for report.md: file, samples, tokens
  // Working memory the run may hold (bytes); 0 = no limit.
  uint64_t max_memory_bytes = 0;
  uint64_t max_shard_bytes = 5'000'000'000;
  // The manifest's producer names the ModelOpt release whose output ours reproduces bit for bit: vLLM and
  // SGLang detect an NVFP4 checkpoint by producer.name == "modelopt", so any other name makes them refuse it.
  // The program that actually wrote the folder is recorded separately (written_by).
  std::string producer_name = "modelopt";
  std::string producer_version = "0.47.0";
  std::string written_by = "fp4serve";
  // Called after each output item with the input bytes converted so far, the total, and the item's name
  // (the CLI draws its progress bar from it).
  std::function<void(uint64_t done_bytes, uint64_t total_bytes, const std::string& item)> on_progress;
};

// Error of one quantized tensor against its f32 input.
struct TensorError {
  std::string name;
  double snr_db = 0.0;  // 10·log10(Σw² / Σ(w−ŵ)²); +inf when exact
  double max_abs = 0.0;
};

struct QuantizeSummary {
  std::map<std::string, uint64_t> bytes_before;  // module class → tensor bytes
  std::map<std::string, uint64_t> bytes_after;
  uint64_t total_before = 0;
  uint64_t total_after = 0;
  std::vector<TensorError> errors;
  std::vector<std::string> quantized_modules;
  std::vector<std::string> exclude_modules;  // as written to the manifest
  uint64_t peak_working_bytes = 0;
  double seconds = 0.0;
};

// Runs the whole conversion. Throws fp4::Error (one line naming file/tensor/field) on bad input or a
// violated memory limit; OUT is then absent.
QuantizeSummary quantize_checkpoint(const QuantizeOptions& options);

// Parses "4G", "512M", "1024K", "123" (bytes; binary units). Throws fp4::Error on anything else.
uint64_t parse_byte_size(const std::string& text);

}  // namespace fp4::quant
