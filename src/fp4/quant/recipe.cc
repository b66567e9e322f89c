#include "fp4/quant/recipe.h"

#include <charconv>

#include "fp4/base/error.h"
#include "fp4/io/quant_config.h"

namespace fp4::quant {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool any_match(const std::vector<std::string>& patterns, std::string_view module) {
  for (const auto& p : patterns) {
    if (io::glob_match(p, module)) return true;
  }
  return false;
}

}  // namespace

Recipe parse_recipe(std::string_view name) {
  if (name == "r1-fp4") return Recipe::kR1Fp4;
  if (name == "r1-fp4-v2") return Recipe::kR1Fp4V2;
  if (name == "all-linear") return Recipe::kAllLinear;
  fail("unknown recipe '{}' (expected r1-fp4, r1-fp4-v2 or all-linear)", name);
}

std::string_view recipe_name(Recipe r) {
  switch (r) {
    case Recipe::kR1Fp4: return "r1-fp4";
    case Recipe::kR1Fp4V2: return "r1-fp4-v2";
    case Recipe::kAllLinear: return "all-linear";
  }
  return "?";
}

std::optional<int64_t> layer_index(std::string_view module) {
  constexpr std::string_view kPrefix = "model.layers.";
  if (module.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const char* begin = module.data() + kPrefix.size();
  const char* end = module.data() + module.size();
  int64_t index = 0;
  auto [ptr, ec] = std::from_chars(begin, end, index);
  if (ec != std::errc() || ptr == begin) return std::nullopt;
  return index;
}

bool is_router(std::string_view module) {
  return ends_with(module, ".mlp.gate") || contains(module, "router") || ends_with(module, "block_sparse_moe.gate");
}

bool ModuleSelector::recipe_selects(std::string_view module) const {
  if (ends_with(module, "lm_head") || is_router(module) || contains(module, "embed")) return false;
  if (recipe == Recipe::kAllLinear) return true;
  const auto layer = layer_index(module);
  if (!layer || *layer >= num_hidden_layers) return false;  // outside the decoder stack, or MTP
  if (contains(module, ".mlp.")) return true;
  return recipe == Recipe::kR1Fp4V2 && ends_with(module, ".self_attn.o_proj");
}

bool ModuleSelector::selects(std::string_view module) const {
  if (any_match(exclude, module)) return false;
  return recipe_selects(module) || any_match(include, module);
}

std::string_view module_class(std::string_view name, int64_t num_hidden_layers) {
  const auto layer = layer_index(name);
  if (layer && *layer >= num_hidden_layers) return "mtp";
  if (contains(name, "embed")) return "embeddings";
  if (contains(name, "lm_head")) return "lm_head";
  if (contains(name, "norm")) return "norms";
  if (contains(name, "shared_expert")) return "shared experts";
  if (contains(name, ".experts.")) return "routed experts";
  if (contains(name, ".mlp.gate.") || contains(name, "router")) return "router";
  if (contains(name, ".mlp.")) return "dense mlp";
  if (contains(name, "self_attn")) return "attention";
  return "other";
}

}  // namespace fp4::quant
