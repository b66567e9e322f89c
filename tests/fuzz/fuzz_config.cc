// libFuzzer target: config parsing. Each input is tried as config.json, generation_config.json and
// hf_quant_config.json; each parser must accept it or throw fp4::Error. An accepted model config is also
// expanded into its tensor layout and recipe sizes (when the layout is small enough to list quickly) and
// its exclude patterns are matched, so the code that trusts a parsed config is exercised too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fp4/base/error.h"
#include "fp4/io/generation_config.h"
#include "fp4/io/model_config.h"
#include "fp4/io/quant_config.h"
#include "fp4/io/tensor_layout.h"

namespace {

// Rough tensor count of a config's layout, to skip listing millions of tensors for a hostile config.
int64_t layout_size_estimate(const fp4::io::ModelConfig& c) {
  int64_t per_layer = 32;
  if (c.moe) per_layer += 3 * (c.moe->n_routed_experts + 1);
  return (c.num_hidden_layers + c.num_nextn_predict_layers) * per_layer;
}

void exercise_model_config(std::string_view text) {
  fp4::io::ModelConfig c = fp4::io::parse_model_config(text, "fuzz/config.json");
  (void)c.kv_cache_elements_per_token_per_layer();
  if (layout_size_estimate(c) > 20000) return;
  auto tensors = fp4::io::expected_tensors(c, true);
  for (auto recipe : {fp4::io::Recipe::kBF16, fp4::io::Recipe::kFP8Block, fp4::io::Recipe::kNVFP4}) {
    (void)fp4::io::recipe_totals(tensors, recipe, c);
  }
}

void exercise_quant_config(std::string_view config, std::string_view manifest) {
  fp4::io::QuantConfig q = fp4::io::parse_quant_config(config, manifest, "fuzz");
  for (const char* module : {"lm_head", "model.layers.3.mlp.experts.7.up_proj", "model.layers.0.self_attn.q_a_proj"}) {
    (void)q.resolve(module);
  }
}

template <typename Fn>
void expect_ok_or_error(Fn&& fn) {
  try {
    fn();
  } catch (const fp4::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  expect_ok_or_error([&] { exercise_model_config(text); });
  expect_ok_or_error([&] { (void)fp4::io::parse_generation_config(text, "fuzz/generation_config.json"); });
  if (!text.empty()) {
    expect_ok_or_error([&] { exercise_quant_config(text, ""); });
    expect_ok_or_error([&] { exercise_quant_config("", text); });
  }
  return 0;
}
