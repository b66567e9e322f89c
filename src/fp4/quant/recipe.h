// Which linears a quantization run converts (specs/nvfp4_format.md §1.2, §1.3, §3).
//
// Recipes:
//   r1-fp4     DeepSeek-R1-0528-FP4: dense MLPs, routed and shared experts; attention (self_attn*), the
//              router (mlp.gate), embeddings, norms, lm_head and the MTP layers (layer index ≥
//              num_hidden_layers) stay in their float dtype.
//   r1-fp4-v2  r1-fp4 plus attention o_proj (DeepSeek-R1-0528-FP4-v2).
//   all-linear every linear except lm_head and routers (ModelOpt's default config); the default for
//              llama/qwen checkpoints and for FP8 block output (DeepSeek's own FP8 layout).
// Then --include patterns add linears and --exclude patterns remove them (exclude wins). Patterns are
// fnmatch-style globs matched against the module name ("model.layers.3.mlp.experts.7.up_proj").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::quant {

enum class Recipe : uint8_t { kR1Fp4, kR1Fp4V2, kAllLinear };

// "r1-fp4" → kR1Fp4, ...; throws fp4::Error naming the value and the accepted ones.
Recipe parse_recipe(std::string_view name);
std::string_view recipe_name(Recipe r);

// The decoder layer index of a "model.layers.N.…" name; nullopt for anything else.
std::optional<int64_t> layer_index(std::string_view module);

// True for a router module (never quantized: DeepSeek's Gate is not a Linear; ModelOpt skips *router*).
bool is_router(std::string_view module);

struct ModuleSelector {
  Recipe recipe = Recipe::kR1Fp4;
  int64_t num_hidden_layers = 0;  // layers at or beyond this index are MTP layers
  std::vector<std::string> include;
  std::vector<std::string> exclude;

  // Whether linear `module` (a rank-2 weight that is not an embedding) is quantized.
  bool selects(std::string_view module) const;
  // Whether the recipe alone (before --include/--exclude) selects it.
  bool recipe_selects(std::string_view module) const;
};

// Module classes used in the report's byte table.
std::string_view module_class(std::string_view tensor_name, int64_t num_hidden_layers);

}  // namespace fp4::quant
