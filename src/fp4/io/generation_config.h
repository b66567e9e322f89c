// generation_config.json: the sampling defaults a model ships with. Every field is optional; an absent
// file gives an empty GenerationConfig.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::io {

struct GenerationConfig {
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // a single id or a list in the file
  std::optional<int64_t> pad_token_id;
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> repetition_penalty;
  std::optional<int64_t> max_new_tokens;
  std::optional<int64_t> max_length;
};

// Parses the JSON text; `source` names it in messages. Throws fp4::Error naming the field on a wrong type
// or an out-of-range value (temperature < 0, top_p outside (0, 1], top_k < 0, ...).
GenerationConfig parse_generation_config(std::string_view json_text, std::string_view source);

// Reads DIR/generation_config.json; an empty config when the file does not exist.
GenerationConfig load_generation_config(const std::string& dir);

}  // namespace fp4::io
