// The non-tensor files of a quantized checkpoint: config.json, the ModelOpt manifest, the files carried
// over from the input folder, and report.md.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fp4/base/error.h"
#include "fp4/quant/plan.h"

namespace fp4::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  FP4_CHECK(in.good(), "cannot read {}", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  FP4_CHECK(out.good(), "cannot write {}", path.string());
}

ordered_json producer_json(const QuantizeOptions& options) {
  return {{"name", options.producer_name}, {"version", options.producer_version}};
}

// ModelOpt's hf_quant_config.json (legacy shape every loader reads).
ordered_json manifest_json(const Plan& plan, const QuantizeOptions& options) {
  ordered_json quantization;
  quantization["quant_algo"] = "NVFP4";
  quantization["kv_cache_quant_algo"] = nullptr;
  quantization["group_size"] = 16;
  quantization["exclude_modules"] = plan.exclude_modules;
  return {{"producer", producer_json(options)}, {"quantization", quantization}, {"written_by", options.written_by}};
}

// ModelOpt ≥0.31's inline config.json quantization_config (compressed-tensors style).
ordered_json inline_quantization_config(const Plan& plan, const QuantizeOptions& options) {
  const ordered_json fp4_args = {{"num_bits", 4}, {"type", "float"}, {"group_size", 16}, {"dynamic", false}};
  ordered_json group;
  group["weights"] = fp4_args;
  group["input_activations"] = fp4_args;
  group["targets"] = {"Linear"};
  ordered_json config;
  config["quant_method"] = "modelopt";
  config["quant_algo"] = "NVFP4";
  config["config_groups"] = {{"group_0", group}};
  config["ignore"] = plan.exclude_modules;
  config["producer"] = producer_json(options);
  return config;
}

bool is_weight_file(const std::string& name) {
  return name.ends_with(".safetensors") || name == "model.safetensors.index.json";
}

}  // namespace

void write_metadata_files(const Plan& plan, const QuantizeOptions& options, const std::string& out_dir) {
  const fs::path in(options.input_dir);
  const fs::path out(out_dir);
  ordered_json config;
  try {
    config = ordered_json::parse(read_file(in / "config.json"));
  } catch (const json::exception& e) {
    fail("{}: not valid JSON: {}", (in / "config.json").string(), e.what());
  }
  config.erase("quantization_config");  // a stale FP8 block would make loaders read the wrong format
  if (options.format == OutputFormat::kNvfp4) {
    if (options.inline_quantization_config) config["quantization_config"] = inline_quantization_config(plan, options);
    write_file(out / "hf_quant_config.json", manifest_json(plan, options).dump(4) + "\n");
  } else {
    config["quantization_config"] = {{"activation_scheme", "dynamic"},
                                     {"fmt", "e4m3"},
                                     {"quant_method", "fp8"},
                                     {"weight_block_size", {kFp8BlockEdge, kFp8BlockEdge}}};
  }
  write_file(out / "config.json", config.dump(2) + "\n");

  // Tokenizer, generation config, chat template and any other plain file travel unchanged.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(in, ec)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || is_weight_file(name) || name == "config.json" || name == "hf_quant_config.json" ||
        name == "report.md") {
      continue;
    }
    fs::copy_file(entry.path(), out / name, fs::copy_options::overwrite_existing, ec);
    FP4_CHECK(!ec, "cannot copy {} to {}: {}", entry.path().string(), out.string(), ec.message());
  }
  FP4_CHECK(!ec, "cannot list {}: {}", in.string(), ec.message());
}

void write_report(const Plan& plan, const QuantizeOptions& options, const QuantizeSummary& s,
                  const std::string& out_dir) {
  auto gib = [](uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0 * 1024.0); };
  std::string md;
  md += "# Quantization report\n\n";
  md += fmt::format("- input: {}\n- format: {}\n- recipe: {}\n", options.input_dir,
                    options.format == OutputFormat::kNvfp4 ? "NVFP4 (ModelOpt layout)" : "FP8 block (DeepSeek layout)",
                    recipe_name(plan.recipe));
  if (options.format == OutputFormat::kNvfp4) {
    md += fmt::format("- block scale cast: {}\n", options.scale_cast == BlockScaleCast::kClamped
                                                      ? "clamped to [2^-9, 448] (current ModelOpt)"
                                                      : "unclamped (ModelOpt 0.31)");
    if (options.input_amax.empty()) {
      md += fmt::format("- input_scale: not calibrated; default activation amax {} → input_scale {}\n",
                        options.default_input_amax, options.default_input_amax / (6.0f * 448.0f));
    } else {
      md += fmt::format("- input_scale: calibrated ({}); {} linears observed; the others use amax {}\n",
                        options.calibration_summary, options.input_amax.size(), options.default_input_amax);
    }
  }
  md += fmt::format("- quantized linears: {}; left unquantized (manifest): {}\n", s.quantized_modules.size(),
                    s.exclude_modules.size());
  md += fmt::format("- time: {:.2f} s; peak working memory {} bytes\n\n", s.seconds, s.peak_working_bytes);

  md += "## Bytes by module class\n\n| class | before | after | ratio |\n|---|---:|---:|---:|\n";
  for (const auto& [cls, before] : s.bytes_before) {
    const auto it = s.bytes_after.find(cls);
    const uint64_t after = it == s.bytes_after.end() ? 0 : it->second;
    md += fmt::format("| {} | {} | {} | {:.3f} |\n", cls, before, after,
                      after == 0 ? 0.0 : static_cast<double>(before) / static_cast<double>(after));
  }
  md += fmt::format("| **total** | {} ({:.3f} GiB) | {} ({:.3f} GiB) | {:.3f} |\n\n", s.total_before,
                    gib(s.total_before), s.total_after, gib(s.total_after),
                    s.total_after == 0 ? 0.0 : static_cast<double>(s.total_before) / static_cast<double>(s.total_after));

  md += "## Error per quantized tensor (against its input values)\n\n| tensor | SNR dB | max abs error |\n|---|---:|---:|\n";
  for (const auto& e : s.errors) {
    md += fmt::format("| {} | {} | {:.6g} |\n", e.name, std::isinf(e.snr_db) ? std::string("exact") : fmt::format("{:.2f}", e.snr_db),
                      e.max_abs);
  }
  write_file(fs::path(out_dir) / "report.md", md);
}

}  // namespace fp4::quant
