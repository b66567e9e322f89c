#include "fp4/quant/plan.h"

#include <algorithm>
#include <set>

#include <fmt/ranges.h>

#include "fp4/base/error.h"
#include "fp4/io/quant_config.h"

namespace fp4::quant {
namespace {

constexpr std::string_view kWeightSuffix = ".weight";
constexpr std::string_view kScaleInvSuffix = ".weight_scale_inv";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string parent_of(const std::string& module) { return module.substr(0, module.rfind('.')); }
std::string leaf_of(const std::string& module) { return module.substr(module.rfind('.') + 1); }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The input's description of `module`'s weight, or nothing when "<module>.weight" is not a linear.
std::optional<LinearSource> linear_source(const io::HfCheckpoint& ckpt, const std::string& module) {
  const io::TensorInfo* w = ckpt.find(module + std::string(kWeightSuffix));
  if (w == nullptr || w->shape.size() != 2 || module.find("embed") != std::string::npos) return std::nullopt;
  LinearSource src{module, SourceEncoding::kBF16, w->shape[0], w->shape[1]};
  switch (w->dtype) {
    case DType::kBF16: src.encoding = SourceEncoding::kBF16; break;
    case DType::kF16: src.encoding = SourceEncoding::kF16; break;
    case DType::kF32: src.encoding = SourceEncoding::kF32; break;
    case DType::kF8_E4M3: {
      src.encoding = SourceEncoding::kFP8Block;
      const std::string scale_name = module + std::string(kScaleInvSuffix);
      const io::TensorInfo* s = ckpt.find(scale_name);
      FP4_CHECK(s != nullptr, "checkpoint {}: FP8 weight '{}.weight' has no '{}'", ckpt.dir(), module, scale_name);
      FP4_CHECK(s->dtype == DType::kF32, "checkpoint {}: tensor '{}' has dtype {}, expected F32", ckpt.dir(),
                scale_name, dtype_name(s->dtype));
      const std::vector<int64_t> expected{ceil_div(src.rows, kFp8BlockEdge), ceil_div(src.cols, kFp8BlockEdge)};
      FP4_CHECK(s->shape == expected, "checkpoint {}: tensor '{}' has shape [{}], expected [{}, {}] for weight [{}, {}]",
                ckpt.dir(), scale_name, fmt::join(s->shape, ", "), expected[0], expected[1], src.rows, src.cols);
      break;
    }
    case DType::kU8:
      fail("checkpoint {}: '{}.weight' is U8 (already NVFP4?); the input must be BF16/F16/F32 or FP8 block",
           ckpt.dir(), module);
    default:
      fail("checkpoint {}: '{}.weight' has dtype {}, expected BF16, F16, F32 or F8_E4M3", ckpt.dir(), module,
           dtype_name(w->dtype));
  }
  return src;
}

// Siblings that ModelOpt fuses (one GEMM in the engines), so they share weight_scale_2 and input_scale.
const std::vector<std::vector<std::string>>& fusion_families() {
  static const std::vector<std::vector<std::string>> kFamilies{{"gate_proj", "up_proj"}, {"q_proj", "k_proj", "v_proj"},
                                                               {"w1", "w3"}};
  return kFamilies;
}

std::vector<std::string> fused_group_of(const std::string& module, const std::set<std::string>& quantized) {
  const std::string leaf = leaf_of(module);
  const std::string parent = parent_of(module);
  for (const auto& family : fusion_families()) {
    if (std::find(family.begin(), family.end(), leaf) == family.end()) continue;
    std::vector<std::string> group;
    for (const auto& member : family) {
      const std::string name = parent + "." + member;
      if (quantized.count(name)) group.push_back(name);
    }
    return group;
  }
  return {module};
}

// ModelOpt-style exclude list: "model.layers.N.self_attn*" when every linear of that attention is left
// unquantized, "model.layers.N*" for a whole unquantized (MTP) layer, otherwise the module name itself.
std::vector<std::string> compress_excludes(const std::map<std::string, LinearSource>& linears,
                                           const std::set<std::string>& quantized) {
  std::map<std::string, std::pair<int, int>> prefix_counts;  // prefix → (linears, unquantized)
  std::set<std::string> layer_numbers;
  for (const auto& [module, _] : linears) {
    if (auto layer = layer_index(module)) layer_numbers.insert(std::to_string(*layer));
  }
  // "model.layers.6*" would also cover layers 60–69: use it (ModelOpt's form) only when no other layer
  // number starts with the same digits, else "model.layers.6.".
  auto layer_prefix_of = [&](int64_t layer) {
    const std::string digits = std::to_string(layer);
    const bool ambiguous = std::any_of(layer_numbers.begin(), layer_numbers.end(), [&](const std::string& other) {
      return other != digits && other.starts_with(digits);
    });
    return "model.layers." + digits + (ambiguous ? "." : "");
  };
  auto prefixes_of = [&](const std::string& module) {
    std::vector<std::string> out;
    if (auto layer = layer_index(module)) {
      out.push_back(layer_prefix_of(*layer));
      const auto attn = module.find(".self_attn.");
      if (attn != std::string::npos) out.push_back(module.substr(0, attn) + ".self_attn");
    }
    return out;
  };
  for (const auto& [module, _] : linears) {
    for (const auto& p : prefixes_of(module)) {
      auto& c = prefix_counts[p];
      ++c.first;
      if (!quantized.count(module)) ++c.second;
    }
  }
  std::vector<std::string> out;
  std::set<std::string> emitted;
  for (const auto& [module, _] : linears) {
    if (quantized.count(module)) continue;
    std::string entry = module;
    for (const auto& p : prefixes_of(module)) {  // layer first: the widest pattern that is exact
      const auto& c = prefix_counts[p];
      if (c.first == c.second) {
        entry = p + "*";
        break;
      }
    }
    if (emitted.insert(entry).second) out.push_back(entry);
  }
  return out;
}

}  // namespace

Plan make_plan(const io::HfCheckpoint& ckpt, const QuantizeOptions& options) {
  Plan plan;
  plan.config = io::load_model_config(options.input_dir);
  const io::QuantConfig input_quant = io::load_quant_config(options.input_dir);
  FP4_CHECK(input_quant.method != io::QuantMethod::kModelOptNVFP4,
            "checkpoint {}: already NVFP4 ({}); quantize a BF16 or FP8 block checkpoint", options.input_dir,
            input_quant.source);
  if (options.recipe) {
    plan.recipe = *options.recipe;
  } else {
    plan.recipe = options.format == OutputFormat::kNvfp4 && plan.config.is_deepseek() ? Recipe::kR1Fp4 : Recipe::kAllLinear;
  }
  const ModuleSelector selector{plan.recipe, plan.config.num_hidden_layers, options.include, options.exclude};

  // Every linear and the tensors it owns.
  std::set<std::string> owned;  // tensor names consumed by a linear's conversion
  for (const auto& name : ckpt.names()) {
    if (!ends_with(name, kWeightSuffix)) continue;
    const std::string module = name.substr(0, name.size() - kWeightSuffix.size());
    if (auto src = linear_source(ckpt, module)) plan.linears.emplace(module, *src);
  }
  // Stray FP8 scales without an FP8 weight are a malformed input.
  for (const auto& name : ckpt.names()) {
    if (!ends_with(name, kScaleInvSuffix)) continue;
    const std::string module = name.substr(0, name.size() - kScaleInvSuffix.size());
    auto it = plan.linears.find(module);
    FP4_CHECK(it != plan.linears.end() && it->second.encoding == SourceEncoding::kFP8Block,
              "checkpoint {}: '{}' belongs to no F8_E4M3 weight '{}.weight'", ckpt.dir(), name, module);
  }
  for (const auto& pattern : options.include) {
    const bool hit = std::any_of(plan.linears.begin(), plan.linears.end(),
                                 [&](const auto& kv) { return io::glob_match(pattern, kv.first); });
    FP4_CHECK(hit, "--include '{}' matches no linear module of {}", pattern, options.input_dir);
  }

  std::set<std::string> quantized;
  for (const auto& [module, src] : plan.linears) {
    if (!selector.selects(module)) continue;
    if (options.format == OutputFormat::kNvfp4) {
      FP4_CHECK(src.cols % kNvfp4Group == 0,
                "checkpoint {}: '{}.weight' has {} input features, not a multiple of the NVFP4 group {}; "
                "exclude it with --exclude '{}'", ckpt.dir(), module, src.cols, kNvfp4Group, module);
    }
    quantized.insert(module);
  }
  FP4_CHECK(!quantized.empty(), "checkpoint {}: recipe {} with the given patterns selects no linear to quantize",
            options.input_dir, recipe_name(plan.recipe));

  // Output items in input name order.
  for (const auto& name : ckpt.names()) {
    const io::TensorInfo* info = ckpt.find(name);
    std::string module = ends_with(name, kWeightSuffix) ? name.substr(0, name.size() - kWeightSuffix.size()) : "";
    auto lin = module.empty() ? plan.linears.end() : plan.linears.find(module);
    if (ends_with(name, kScaleInvSuffix)) continue;  // consumed with its weight
    if (lin == plan.linears.end()) {
      plan.items.push_back({Action::kCopy, name, {}, {}});
      plan.outputs.push_back({name, info->dtype, info->shape});
      continue;
    }
    const LinearSource& src = lin->second;
    const int64_t n = src.rows, k = src.cols;
    if (!quantized.count(module)) {
      if (src.encoding == SourceEncoding::kFP8Block) {
        plan.items.push_back({Action::kFp8ToBf16, module, src, {}});
        plan.outputs.push_back({name, DType::kBF16, {n, k}});
      } else {
        plan.items.push_back({Action::kCopy, name, {}, {}});
        plan.outputs.push_back({name, info->dtype, info->shape});
      }
      continue;
    }
    plan.quantized.push_back(module);
    if (options.format == OutputFormat::kNvfp4) {
      plan.items.push_back({Action::kNvfp4, module, src, fused_group_of(module, quantized)});
      plan.outputs.push_back({module + ".weight", DType::kU8, {n, k / 2}});
      plan.outputs.push_back({module + ".weight_scale", DType::kF8_E4M3, {n, k / kNvfp4Group}});
      plan.outputs.push_back({module + ".weight_scale_2", DType::kF32, {}});
      plan.outputs.push_back({module + ".input_scale", DType::kF32, {}});
    } else {
      plan.items.push_back({Action::kFp8Block, module, src, {module}});
      plan.outputs.push_back({module + ".weight", DType::kF8_E4M3, {n, k}});
      plan.outputs.push_back({module + ".weight_scale_inv", DType::kF32,
                              {ceil_div(n, kFp8BlockEdge), ceil_div(k, kFp8BlockEdge)}});
    }
  }
  plan.exclude_modules = compress_excludes(plan.linears, quantized);
  return plan;
}

}  // namespace fp4::quant
