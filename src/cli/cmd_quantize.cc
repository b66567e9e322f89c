// `fp4serve quantize IN OUT --format nvfp4|fp8 [--recipe r1-fp4|r1-fp4-v2|all-linear] [--exclude P]...
//  [--include P]... [--max-memory 4G] [--modelopt-0.31-scales] [--cpu-division-scales] [--inline-config]
//  [--input-amax A] [--calib FILE.jsonl [--calib-chat] [--calib-max-tokens N] [--calib-samples N]]`:
// converts a BF16 or DeepSeek-FP8 checkpoint into ModelOpt NVFP4 or DeepSeek FP8 block (docs/quantizer.md).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/command.h"
#include "fp4/base/error.h"
#include "fp4/base/progress_bar.h"
#include "fp4/quant/calibration.h"
#include "fp4/quant/quantizer.h"

namespace fp4::cli {
namespace {

struct QuantizeArgs {
  std::string in;
  std::string out;
  std::string format = "nvfp4";
  std::string recipe;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string max_memory;
  std::string max_shard = "5G";
  bool modelopt_031_scales = false;
  bool cpu_division = false;
  bool inline_config = false;
  float input_amax = 2688.0f;
  std::string calib;
  bool calib_chat = false;
  int64_t calib_max_tokens = 2048;
  int64_t calib_samples = 0;
  int threads = 0;
};

int run_quantize(const QuantizeArgs& a) {
  quant::QuantizeOptions o;
  o.input_dir = a.in;
  o.output_dir = a.out;
  o.format = a.format == "fp8" ? quant::OutputFormat::kFp8Block : quant::OutputFormat::kNvfp4;
  if (!a.recipe.empty()) o.recipe = quant::parse_recipe(a.recipe);
  o.include = a.include;
  o.exclude = a.exclude;
  o.scale_cast = a.modelopt_031_scales ? quant::BlockScaleCast::kUnclampedV031 : quant::BlockScaleCast::kClamped;
  o.global_scale_arith = a.cpu_division ? quant::GlobalScaleArith::kTrueDivision : quant::GlobalScaleArith::kCudaReciprocal;
  o.inline_quantization_config = a.inline_config;
  o.default_input_amax = a.input_amax;
  if (!a.max_memory.empty()) o.max_memory_bytes = quant::parse_byte_size(a.max_memory);
  o.max_shard_bytes = quant::parse_byte_size(a.max_shard);
  if (a.modelopt_031_scales) o.producer_version = "0.31.0";
  o.written_by = std::string("fp4serve ") + FP4_VERSION;
  if (!a.calib.empty()) {
    FP4_CHECK(o.format == quant::OutputFormat::kNvfp4, "quantize: --calib only applies to --format nvfp4");
    quant::CalibrationOptions c;
    c.file = a.calib;
    c.chat_template_text = a.calib_chat;
    c.max_tokens = a.calib_max_tokens;
    c.max_samples = a.calib_samples;
    c.threads = a.threads;
    std::unique_ptr<ProgressBar> cbar;
    const quant::CalibrationResult r = quant::calibrate(a.in, c, [&cbar](int64_t done, int64_t total) {
      if (!cbar) cbar = std::make_unique<ProgressBar>("calibrate", static_cast<uint64_t>(total));
      cbar->update(static_cast<uint64_t>(done));
    });
    if (cbar) cbar->finish();
    o.input_amax = r.amax;
    o.calibration_summary = fmt::format("{}: {} samples, {} tokens, {} unrouted experts given their layer's max",
                                        a.calib, r.samples, r.tokens, r.filled_experts);
    std::printf("calibrated on %lld samples (%lld tokens); %zu linears observed\n", static_cast<long long>(r.samples),
                static_cast<long long>(r.tokens), r.amax.size());
  }
  std::unique_ptr<ProgressBar> bar;  // drawn only on a terminal
  o.on_progress = [&bar](uint64_t done, uint64_t total, const std::string& item) {
    if (!bar) bar = std::make_unique<ProgressBar>("quantize", total, ProgressBar::Unit::kBytes);
    bar->update(done, item);
  };
  const quant::QuantizeSummary s = quant::quantize_checkpoint(o);
  if (bar) bar->finish();
  std::printf("wrote %s: %zu linears quantized, %.3f GB -> %.3f GB (%.2fx), %.1f s, peak working memory %.1f MB\n",
              a.out.c_str(), s.quantized_modules.size(), static_cast<double>(s.total_before) / 1e9,
              static_cast<double>(s.total_after) / 1e9,
              static_cast<double>(s.total_before) / static_cast<double>(s.total_after), s.seconds,
              static_cast<double>(s.peak_working_bytes) / 1e6);
  return 0;
}

const Command kQuantize{
    "quantize", "Quantize a BF16 or FP8 checkpoint to NVFP4 (ModelOpt layout) or FP8 block (DeepSeek layout)",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<QuantizeArgs>();
      sub.add_option("IN", a->in, "Input model folder")->required();
      sub.add_option("OUT", a->out, "Output model folder (must not exist)")->required();
      sub.add_option("--format", a->format, "Output encoding")->check(CLI::IsMember({"nvfp4", "fp8"}));
      sub.add_option("--recipe", a->recipe,
                     "Which linears to quantize: r1-fp4 (default for DeepSeek NVFP4), r1-fp4-v2, all-linear");
      sub.add_option("--include", a->include, "Also quantize linears whose module name matches this glob");
      sub.add_option("--exclude", a->exclude, "Never quantize linears whose module name matches this glob");
      sub.add_option("--max-memory", a->max_memory, "Fail if the working memory would exceed this (e.g. 4G)");
      sub.add_option("--max-shard", a->max_shard, "Largest output shard (default 5G)");
      sub.add_flag("--modelopt-0.31-scales", a->modelopt_031_scales,
                   "Cast block scales without the [2^-9, 448] clamp, as ModelOpt 0.31 did");
      sub.add_flag("--cpu-division-scales", a->cpu_division,
                   "weight_scale_2 = amax/2688 by true division, as ModelOpt computes it on a CPU (default: "
                   "amax times the f32 reciprocal, as on a GPU)");
      sub.add_flag("--inline-config", a->inline_config,
                   "Also write config.json quantization_config in the ModelOpt 0.31+ shape");
      sub.add_option("--input-amax", a->input_amax,
                     "Activation amax assumed for input_scale without calibration (default 2688: input_scale 1.0)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--calib", a->calib,
                     "Calibration texts (JSONL: {\"text\": ...} or {\"messages\": [...]}) for activation "
                     "input_scale; see docs/quantizer.md");
      sub.add_flag("--calib-chat", a->calib_chat, "Render calibration \"text\" lines through the chat template");
      sub.add_option("--calib-max-tokens", a->calib_max_tokens, "Tokens per calibration sample (default 2048)")
          ->check(CLI::PositiveNumber);
      sub.add_option("--calib-samples", a->calib_samples, "Use at most this many calibration lines (0: all)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--threads", a->threads, "Threads for calibration (default: every core)")
          ->check(CLI::NonNegativeNumber);
      return [a] { return run_quantize(*a); };
    }};

}  // namespace
}  // namespace fp4::cli
