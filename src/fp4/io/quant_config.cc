#include "fp4/io/quant_config.h"

#include <filesystem>

#include "fp4/base/error.h"
#include "fp4/base/mapped_file.h"
#include "fp4/io/json_fields.h"

namespace fp4::io {
namespace {

using detail::Fields;

// The only NVFP4 block width: 16 E2M1 values share one UE4M3 scale (nvfp4_format.md §1.3).
constexpr int kNvfp4GroupSize = 16;

void check_nvfp4_algo(const std::string& algo, const std::string& where) {
  FP4_CHECK(algo == "NVFP4", "{}: quant_algo '{}' is not supported; accepted: NVFP4 (or MIXED_PRECISION of NVFP4)",
            where, algo);
}

// quantized_layers of a MIXED_PRECISION manifest: every listed module must be NVFP4.
void parse_mixed_layers(const Fields& f, QuantConfig& q) {
  auto layers = f.opt_object("quantized_layers");
  FP4_CHECK(layers.has_value(), "{}: quant_algo MIXED_PRECISION needs \"quantized_layers\"", f.where());
  const auto* obj = f.get("quantized_layers");
  for (const auto& [module, spec] : obj->items()) {
    FP4_CHECK(spec.is_object(), "{}: quantized_layers entry '{}' is a {}, expected an object", f.where(), module,
              spec.type_name());
    Fields layer(spec, f.where() + ": quantized_layers." + module);
    check_nvfp4_algo(layer.string_or("quant_algo", ""), layer.where());
    int64_t group = layer.int_or("group_size", kNvfp4GroupSize);
    FP4_CHECK(group == kNvfp4GroupSize, "{}: group_size {} is not supported; NVFP4 uses {}", layer.where(), group,
              kNvfp4GroupSize);
    q.quantized_layers.push_back(module);
  }
  q.mixed_precision = true;
}

// Legacy ModelOpt manifest (hf_quant_config.json).
QuantConfig parse_hf_quant_config(const detail::json& root, const std::string& source) {
  Fields top(root, source);
  QuantConfig q;
  q.method = QuantMethod::kModelOptNVFP4;
  q.source = source;
  if (auto producer = top.opt_object("producer")) {
    q.producer = producer->string_or("name", "") + " " + producer->string_or("version", "");
  }
  auto quant = top.opt_object("quantization");
  FP4_CHECK(quant.has_value(), "{}: missing \"quantization\"", source);
  auto algo = quant->opt_string("quant_algo");
  FP4_CHECK(algo.has_value(), "{}: missing \"quant_algo\"", quant->where());
  q.quant_algo = *algo;
  if (q.quant_algo == "MIXED_PRECISION") {
    parse_mixed_layers(*quant, q);
  } else {
    check_nvfp4_algo(q.quant_algo, quant->where());
  }
  q.group_size = static_cast<int32_t>(quant->int_or("group_size", kNvfp4GroupSize));
  FP4_CHECK(q.group_size == kNvfp4GroupSize, "{}: group_size {} is not supported; NVFP4 uses {}", quant->where(),
            q.group_size, kNvfp4GroupSize);
  q.kv_cache_quant_algo = quant->string_or("kv_cache_quant_algo", "");
  q.exclude_patterns = quant->string_list("exclude_modules");
  return q;
}

// Inline ModelOpt block in config.json (quant_method "modelopt"). Two shapes exist: the compressed-tensors
// style (quant_algo + config_groups + ignore + kv_cache_scheme) and a copy of the legacy manifest's
// "quantization" dict (exclude_modules + kv_cache_quant_algo).
QuantConfig parse_modelopt_inline(const Fields& f) {
  QuantConfig q;
  q.method = QuantMethod::kModelOptNVFP4;
  q.source = f.where();
  if (f.has("quantization")) {
    detail::json manifest = {{"quantization", *f.get("quantization")}};
    if (const auto* producer = f.get("producer")) manifest["producer"] = *producer;
    return parse_hf_quant_config(manifest, f.where());
  }
  auto algo = f.opt_string("quant_algo");
  FP4_CHECK(algo.has_value(), "{}: missing \"quant_algo\"", f.where());
  q.quant_algo = *algo;
  if (q.quant_algo == "MIXED_PRECISION") {
    parse_mixed_layers(f, q);
  } else {
    check_nvfp4_algo(q.quant_algo, f.where());
  }
  q.group_size = static_cast<int32_t>(f.int_or("group_size", kNvfp4GroupSize));
  if (f.opt_object("config_groups")) {
    for (const auto& [name, group] : f.get("config_groups")->items()) {
      FP4_CHECK(group.is_object(), "{}: config_groups.{} is a {}, expected an object", f.where(), name,
                group.type_name());
      Fields g(group, f.where() + ": config_groups." + name);
      if (auto weights = g.opt_object("weights")) {
        int64_t bits = weights->int_or("num_bits", 4);
        FP4_CHECK(bits == 4, "{}: num_bits {} is not supported; NVFP4 weights have 4", weights->where(), bits);
        q.group_size = static_cast<int32_t>(weights->int_or("group_size", kNvfp4GroupSize));
      }
    }
  }
  FP4_CHECK(q.group_size == kNvfp4GroupSize, "{}: group_size {} is not supported; NVFP4 uses {}", f.where(),
            q.group_size, kNvfp4GroupSize);
  q.exclude_patterns = f.string_list("ignore");
  for (auto& p : f.string_list("exclude_modules")) q.exclude_patterns.push_back(std::move(p));
  q.kv_cache_quant_algo = f.string_or("kv_cache_quant_algo", "");
  if (auto kv = f.opt_object("kv_cache_scheme")) {
    int64_t bits = kv->int_or("num_bits", 0);
    std::string type = kv->string_or("type", "");
    q.kv_cache_quant_algo = (bits == 8 && type == "float") ? "FP8" : fmt::format("{}-bit {}", bits, type);
  }
  if (auto producer = f.opt_object("producer")) {
    q.producer = producer->string_or("name", "") + " " + producer->string_or("version", "");
  }
  return q;
}

// DeepSeek / transformers FP8 block config.
QuantConfig parse_fp8_block(const Fields& f) {
  QuantConfig q;
  q.method = QuantMethod::kFP8Block;
  q.source = f.where();
  std::string fmt_name = f.string_or("fmt", "e4m3");
  FP4_CHECK(fmt_name == "e4m3", "{}: fmt '{}' is not supported; FP8 block weights are e4m3", f.where(), fmt_name);
  q.activation_scheme = f.string_or("activation_scheme", "dynamic");
  const auto* block = f.get("weight_block_size");
  FP4_CHECK(block != nullptr, "{}: missing \"weight_block_size\" (only block-scaled FP8 is supported)", f.where());
  FP4_CHECK(block->is_array() && block->size() == 2 && (*block)[0].is_number_integer() &&
                (*block)[1].is_number_integer(),
            "{}: \"weight_block_size\" is {}, expected [rows, cols]", f.where(), block->dump());
  int64_t br = (*block)[0].get<int64_t>(), bc = (*block)[1].get<int64_t>();
  FP4_CHECK(br >= 1 && bc >= 1 && br <= 65536 && bc <= 65536, "{}: \"weight_block_size\" {} must be positive",
            f.where(), block->dump());
  q.block_rows = static_cast<int32_t>(br);
  q.block_cols = static_cast<int32_t>(bc);
  q.exclude_patterns = f.string_list("modules_to_not_convert");
  return q;
}

bool has_wildcard(std::string_view p) { return p.find_first_of("*?") != std::string_view::npos; }

}  // namespace

std::string_view quant_method_name(QuantMethod m) {
  switch (m) {
    case QuantMethod::kNone: return "none";
    case QuantMethod::kFP8Block: return "fp8-block";
    case QuantMethod::kModelOptNVFP4: return "modelopt-nvfp4";
  }
  return "?";
}

std::string_view linear_quant_name(LinearQuant q) {
  switch (q) {
    case LinearQuant::kUnquantized: return "unquantized";
    case LinearQuant::kFP8Block: return "fp8-block";
    case LinearQuant::kNVFP4: return "nvfp4";
  }
  return "?";
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with single-star backtracking: O(|pattern| · |text|) worst case, no recursion.
  size_t p = 0, t = 0, star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool QuantConfig::is_excluded(std::string_view module) const {
  std::string weight = std::string(module) + ".weight";
  for (const auto& p : exclude_patterns) {
    if (has_wildcard(p)) {
      if (glob_match(p, module) || glob_match(p, weight)) return true;
    } else if (module == p || (module.size() > p.size() && module.starts_with(p) && module[p.size()] == '.')) {
      return true;  // a plain entry names a module and everything under it
    }
  }
  return false;
}

LinearQuant QuantConfig::resolve(std::string_view module) const {
  switch (method) {
    case QuantMethod::kNone: return LinearQuant::kUnquantized;
    case QuantMethod::kFP8Block: return is_excluded(module) ? LinearQuant::kUnquantized : LinearQuant::kFP8Block;
    case QuantMethod::kModelOptNVFP4:
      if (is_excluded(module)) return LinearQuant::kUnquantized;
      if (mixed_precision) {
        for (const auto& m : quantized_layers) {
          if (m == module) return LinearQuant::kNVFP4;
        }
        return LinearQuant::kUnquantized;
      }
      return LinearQuant::kNVFP4;
  }
  return LinearQuant::kUnquantized;
}

QuantConfig parse_quant_config(std::string_view config_json, std::string_view hf_quant_config_json,
                               std::string_view dir) {
  namespace fs = std::filesystem;
  const std::string config_source = (fs::path(dir) / "config.json").string();
  const std::string manifest_source = (fs::path(dir) / "hf_quant_config.json").string();

  std::optional<QuantConfig> manifest;
  if (!hf_quant_config_json.empty()) {
    manifest = parse_hf_quant_config(detail::parse_json_object(hf_quant_config_json, manifest_source), manifest_source);
  }
  if (!config_json.empty()) {
    auto root = detail::parse_json_object(config_json, config_source);
    Fields top(root, config_source);
    if (auto qc = top.opt_object("quantization_config")) {
      auto method = qc->opt_string("quant_method");
      FP4_CHECK(method.has_value(), "{}: missing \"quant_method\"", qc->where());
      if (*method == "fp8") {
        // A ModelOpt NVFP4 export of a DeepSeek FP8 model may carry the source's stale FP8 block in
        // config.json (nvfp4_format.md §1.1); the ModelOpt manifest describes the weights actually stored.
        if (manifest) return *manifest;
        return parse_fp8_block(*qc);
      }
      if (*method == "modelopt") return parse_modelopt_inline(*qc);
      fail("{}: quant_method '{}' is not supported; accepted: fp8 (DeepSeek block FP8), modelopt (NVFP4)", qc->where(),
           *method);
    }
  }
  if (manifest) return *manifest;
  return QuantConfig{};
}

QuantConfig load_quant_config(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string config_path = (fs::path(dir) / "config.json").string();
  std::string manifest_path = (fs::path(dir) / "hf_quant_config.json").string();
  std::string config = fs::exists(config_path, ec) ? read_text_file(config_path) : std::string();
  std::string manifest = fs::exists(manifest_path, ec) ? read_text_file(manifest_path) : std::string();
  // An empty text means "no such file" to parse_quant_config, so an empty file must be caught here.
  FP4_CHECK(!fs::exists(manifest_path, ec) || !manifest.empty(), "{}: file is empty", manifest_path);
  FP4_CHECK(!fs::exists(config_path, ec) || !config.empty(), "{}: file is empty", config_path);
  return parse_quant_config(config, manifest, dir);
}

}  // namespace fp4::io
