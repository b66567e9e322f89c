// `fp4serve inspect DIR`: what a model folder holds and what it would cost in each encoding, read from
// config.json and the safetensors headers only (no tensor data is read). `--config-only` needs only
// config.json, so "NVFP4 is ~1.6x smaller than FP8" can be checked for DeepSeek-R1 without 700 GB of weights.
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "cli/command.h"
#include "fp4/base/error.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/model_config.h"
#include "fp4/io/quant_config.h"
#include "fp4/io/tensor_layout.h"

namespace fp4::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Bucket {
  uint64_t tensors = 0;
  uint64_t params = 0;
  uint64_t bytes = 0;
};

// Stored encoding of each tensor: a quantized linear's weight and its scales go to "nvfp4" or
// "fp8-block"; everything else to its dtype ("bf16", "f32", ...).
struct StoredSummary {
  std::map<std::string, Bucket> by_encoding;
  uint64_t params = 0;
  uint64_t tensors = 0;
  uint64_t bytes = 0;
  uint64_t file_bytes = 0;
  size_t files = 0;
  bool has_mtp = false;
  std::vector<std::string> missing;     // tensors the config implies but the checkpoint lacks
  std::vector<std::string> unexpected;  // tensors the checkpoint has that the layout does not name
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits "a.b.weight_scale" into module "a.b" and suffix "weight_scale".
std::pair<std::string, std::string> split_last(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos) return {"", name};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

StoredSummary summarize(const io::HfCheckpoint& ckpt, const io::ModelConfig* config) {
  StoredSummary s;
  s.files = ckpt.files().size();
  s.file_bytes = ckpt.file_bytes();
  // Pass 1: which modules hold a quantized weight.
  std::map<std::string, std::string> module_encoding;
  ckpt.for_each([&](const io::TensorView& t) {
    auto [module, leaf] = split_last(t.name());
    if (leaf != "weight") return;
    if (t.dtype() == DType::kU8 && ckpt.contains(module + ".weight_scale")) module_encoding[module] = "nvfp4";
    if (t.dtype() == DType::kF8_E4M3 && ckpt.contains(module + ".weight_scale_inv")) module_encoding[module] = "fp8-block";
  });
  static const std::set<std::string> kNvfp4Companions = {"weight_scale", "weight_scale_2", "input_scale"};
  // Pass 2: buckets and logical parameter counts (a packed NVFP4 byte holds two weights; scales are not
  // parameters).
  ckpt.for_each([&](const io::TensorView& t) {
    auto [module, leaf] = split_last(t.name());
    auto enc = module_encoding.find(module);
    std::string bucket = lower(dtype_name(t.dtype()));
    uint64_t params = static_cast<uint64_t>(t.numel());
    if (enc != module_encoding.end()) {
      if (leaf == "weight") {
        bucket = enc->second;
        if (enc->second == "nvfp4") params *= 2;
      } else if ((enc->second == "nvfp4" && kNvfp4Companions.count(leaf)) ||
                 (enc->second == "fp8-block" && leaf == "weight_scale_inv")) {
        bucket = enc->second;
        params = 0;
      }
    }
    if (leaf == "k_scale" || leaf == "v_scale") params = 0;  // FP8 KV-cache scales
    Bucket& b = s.by_encoding[bucket];
    b.tensors += 1;
    b.params += params;
    b.bytes += t.nbytes();
    s.params += params;
    s.tensors += 1;
    s.bytes += t.nbytes();
  });

  if (config != nullptr) {
    s.has_mtp = config->is_deepseek() && config->num_nextn_predict_layers > 0 &&
                ckpt.contains(fmt::format("model.layers.{}.input_layernorm.weight", config->num_hidden_layers));
    std::set<std::string> expected;
    for (const auto& t : io::expected_tensors(*config, s.has_mtp)) {
      expected.insert(t.name);
      if (!ckpt.contains(t.name)) s.missing.push_back(t.name);
    }
    ckpt.for_each([&](const io::TensorView& t) {
      auto [module, leaf] = split_last(t.name());
      bool companion = module_encoding.count(module) && leaf != "weight";
      bool kv_scale = leaf == "k_scale" || leaf == "v_scale";
      if (!expected.count(t.name()) && !companion && !kv_scale) s.unexpected.push_back(t.name());
    });
  }
  return s;
}

// Decimal units (as model cards and disk sizes use): "423.61 GB", "13.94 KB".
std::string human_bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.2f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.2f} KB", b / 1e3);
  return fmt::format("{} B", bytes);
}

// "684.5 B" parameters, "15.7 M", "28.9 K".
std::string count_units(uint64_t n) {
  const double v = static_cast<double>(n);
  if (v >= 1e9) return fmt::format("{:.1f} B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.1f} M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f} K", v / 1e3);
  return std::to_string(n);
}

std::string with_commas(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct Report {
  json j = json::object();
  std::string text;
  void line(std::string s) { text += s + "\n"; }
};

void report_config(Report& r, const io::ModelConfig& c, const io::QuantConfig& q) {
  r.j["architecture"] = c.model_type;
  r.j["architectures"] = c.architectures;
  r.j["layers"] = c.num_hidden_layers;
  r.j["mtp_layers"] = c.is_deepseek() ? c.num_nextn_predict_layers : 0;
  r.j["hidden_size"] = c.hidden_size;
  r.j["vocab_size"] = c.vocab_size;
  r.j["attention"] = c.mla ? "mla" : "gqa";
  r.j["quantization"] = {{"method", std::string(io::quant_method_name(q.method))},
                         {"source", q.source},
                         {"exclude_patterns", q.exclude_patterns},
                         {"kv_cache_quant_algo", q.kv_cache_quant_algo}};
  std::string arch_names;
  for (const auto& a : c.architectures) arch_names += (arch_names.empty() ? "" : ", ") + a;
  r.line(fmt::format("architecture      {}{}", c.model_type, arch_names.empty() ? "" : " (" + arch_names + ")"));
  std::string attention = c.mla ? fmt::format("MLA q_lora {} kv_lora {} rope {} nope {} v {}", c.mla->q_lora_rank,
                                              c.mla->kv_lora_rank, c.mla->qk_rope_head_dim, c.mla->qk_nope_head_dim,
                                              c.mla->v_head_dim)
                                : fmt::format("GQA {} kv heads × head_dim {}", c.num_key_value_heads, c.head_dim);
  r.line(fmt::format("shape             {} layers{}, hidden {}, {} heads, {}, vocab {}", c.num_hidden_layers,
                     c.is_deepseek() && c.num_nextn_predict_layers > 0
                         ? fmt::format(" (+{} MTP)", c.num_nextn_predict_layers)
                         : "",
                     c.hidden_size, c.num_attention_heads, attention, c.vocab_size));
  if (c.moe) {
    r.line(fmt::format("experts           {} routed (top {}), {} shared, width {}; first {} layers dense",
                       c.moe->n_routed_experts, c.moe->num_experts_per_tok, c.moe->n_shared_experts,
                       c.moe->moe_intermediate_size, c.moe->first_k_dense_replace));
  }
  r.line(fmt::format("quantization      {}{}", io::quant_method_name(q.method),
                     q.source.empty() ? "" : fmt::format(" (from {}, {} exclude patterns)", q.source,
                                                         q.exclude_patterns.size())));
}

void report_kv_cache(Report& r, const io::ModelConfig& c) {
  const int64_t per_layer = c.kv_cache_elements_per_token_per_layer();
  const int64_t elements = per_layer * c.num_hidden_layers;
  r.j["kv_cache"] = {{"elements_per_token_per_layer", per_layer},
                     {"bytes_per_token_bf16", elements * 2},
                     {"bytes_per_token_fp8", elements}};
  std::string how = c.mla ? fmt::format("MLA ({} + {})", c.mla->kv_lora_rank, c.mla->qk_rope_head_dim)
                          : fmt::format("GQA 2 × {} × {}", c.num_key_value_heads, c.head_dim);
  r.line(fmt::format("kv cache / token  {} × {} layers = {} values: {} bytes BF16, {} bytes FP8", how,
                     c.num_hidden_layers, with_commas(static_cast<uint64_t>(elements)),
                     with_commas(static_cast<uint64_t>(elements * 2)), with_commas(static_cast<uint64_t>(elements))));
}

void report_recipes(Report& r, const io::ModelConfig& c, bool include_mtp) {
  auto tensors = io::expected_tensors(c, include_mtp);
  uint64_t params = 0;
  for (const auto& t : tensors) params += static_cast<uint64_t>(t.numel());
  r.j["layout"] = {{"tensors", tensors.size()}, {"parameters", params}, {"includes_mtp", include_mtp}};
  r.line(fmt::format("parameters        {} ({}) in {} tensors{}", with_commas(params), count_units(params),
                     tensors.size(), include_mtp ? ", MTP layer included" : ""));
  r.line("recipe sizes      (whole model; scales included)");
  json recipes = json::object();
  uint64_t totals[3] = {0, 0, 0};
  for (auto recipe : {io::Recipe::kBF16, io::Recipe::kFP8Block, io::Recipe::kNVFP4}) {
    io::RecipeTotals t = io::recipe_totals(tensors, recipe, c);
    totals[static_cast<int>(recipe)] = t.total_bytes;
    json parts = json::object();
    std::string detail;
    for (int s = 0; s < 4; ++s) {
      if (t.bytes_by_storage[s] == 0) continue;
      auto name = std::string(io::stored_as_name(static_cast<io::StoredAs>(s)));
      parts[name] = {{"bytes", t.bytes_by_storage[s]}, {"parameters", t.params_by_storage[s]}};
      detail += fmt::format("{}{} {}", detail.empty() ? "" : ", ", name, human_bytes(t.bytes_by_storage[s]));
    }
    recipes[std::string(io::recipe_name(recipe))] = {{"bytes", t.total_bytes}, {"by_storage", parts}};
    r.line(fmt::format("  {:<10} {:>22} bytes  {:>12}   ({})", io::recipe_name(recipe), with_commas(t.total_bytes),
                       human_bytes(t.total_bytes), detail));
  }
  const double fp8_over_nvfp4 = static_cast<double>(totals[1]) / static_cast<double>(totals[2]);
  const double bf16_over_nvfp4 = static_cast<double>(totals[0]) / static_cast<double>(totals[2]);
  recipes["fp8_over_nvfp4"] = fp8_over_nvfp4;
  recipes["bf16_over_nvfp4"] = bf16_over_nvfp4;
  r.j["recipes"] = recipes;
  r.line(fmt::format("  nvfp4 is {:.3f}x smaller than fp8-block and {:.3f}x smaller than bf16", fp8_over_nvfp4,
                     bf16_over_nvfp4));
  if (c.is_deepseek()) {
    r.line("  nvfp4 = DeepSeek-R1-0528-FP4 recipe: dense and expert MLPs NVFP4; attention, router,");
    r.line("          embeddings, lm_head and the MTP layer BF16");
  }
}

void report_stored(Report& r, const StoredSummary& s) {
  json enc = json::object();
  r.line(fmt::format("stored            {} tensors, {} parameters, {} in {} file(s) ({} bytes on disk)",
                     with_commas(s.tensors), with_commas(s.params), human_bytes(s.bytes), s.files, with_commas(s.file_bytes)));
  r.line(fmt::format("  {:<10} {:>9} {:>22} {:>22}", "encoding", "tensors", "parameters", "bytes"));
  for (const auto& [name, b] : s.by_encoding) {
    enc[name] = {{"tensors", b.tensors}, {"parameters", b.params}, {"bytes", b.bytes}};
    r.line(fmt::format("  {:<10} {:>9} {:>22} {:>22}", name, with_commas(b.tensors), with_commas(b.params),
                       with_commas(b.bytes)));
  }
  r.j["stored"] = {{"tensors", s.tensors},   {"parameters", s.params},         {"tensor_bytes", s.bytes},
                   {"file_bytes", s.file_bytes}, {"files", s.files},          {"by_encoding", enc},
                   {"missing", s.missing},   {"unexpected", s.unexpected}};
  auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size() && i < 3; ++i) out += (i ? ", " : "") + v[i];
    return v.size() > 3 ? out + ", ..." : out;
  };
  if (!s.missing.empty()) r.line(fmt::format("  layout: {} tensors the config implies are missing: {}", s.missing.size(), list(s.missing)));
  if (!s.unexpected.empty()) {
    r.line(fmt::format("  layout: {} tensors not in the config's layout: {}", s.unexpected.size(), list(s.unexpected)));
  }
}

int run_inspect(const std::string& path, bool config_only, bool as_json) {
  Report r;
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  const std::string dir = is_dir ? path : fs::path(path).parent_path().string();
  const bool have_config = fs::exists(fs::path(dir) / "config.json", ec);
  r.j["path"] = path;
  r.line(fmt::format("model             {}", path));

  std::optional<io::ModelConfig> config;
  if (config_only || have_config) {
    config = io::load_model_config(config_only && !is_dir ? path : dir);
    io::QuantConfig quant = config_only && !is_dir ? io::QuantConfig{} : io::load_quant_config(dir);
    report_config(r, *config, quant);
  }
  std::optional<StoredSummary> stored;
  if (!config_only) {
    // Headers only: `inspect` never reads tensor data.
    auto ckpt = io::HfCheckpoint::open(path, io::HfCheckpoint::Mode::kHeaderOnly);
    stored = summarize(ckpt, config ? &*config : nullptr);
  }
  if (config) {
    bool include_mtp = stored ? stored->has_mtp : config->is_deepseek() && config->num_nextn_predict_layers > 0;
    report_recipes(r, *config, include_mtp);
    report_kv_cache(r, *config);
  } else {
    r.line("config            none (no config.json): architecture and recipe sizes unknown");
  }
  if (stored) report_stored(r, *stored);

  if (as_json) {
    std::fputs((r.j.dump(2) + "\n").c_str(), stdout);
  } else {
    std::fputs(r.text.c_str(), stdout);
  }
  return 0;
}

const Command kInspect{
    "inspect", "Show a model folder's architecture, sizes per encoding and KV-cache cost (headers only)",
    [](CLI::App& sub) -> Runner {
      auto path = std::make_shared<std::string>();
      auto config_only = std::make_shared<bool>(false);
      auto as_json = std::make_shared<bool>(false);
      sub.add_option("DIR", *path, "Model folder (config.json + safetensors), a .safetensors file, or a config.json")
          ->required();
      sub.add_flag("--config-only", *config_only, "Use config.json alone (no weights needed)");
      sub.add_flag("--json", *as_json, "Print the report as JSON");
      return [=] { return run_inspect(*path, *config_only, *as_json); };
    }};

}  // namespace
}  // namespace fp4::cli
