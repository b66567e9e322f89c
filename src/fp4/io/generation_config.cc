#include "fp4/io/generation_config.h"

#include <filesystem>

#include "fp4/base/error.h"
#include "fp4/base/mapped_file.h"
#include "fp4/io/json_fields.h"

namespace fp4::io {

GenerationConfig parse_generation_config(std::string_view json_text, std::string_view source) {
  auto root = detail::parse_json_object(json_text, source);
  detail::Fields f(root, std::string(source));
  GenerationConfig g;
  g.bos_token_id = f.opt_int("bos_token_id");
  g.eos_token_ids = f.int_list("eos_token_id");
  g.pad_token_id = f.opt_int("pad_token_id");
  g.do_sample = f.opt_bool("do_sample");
  g.temperature = f.opt_number("temperature");
  FP4_CHECK(!g.temperature || *g.temperature >= 0, "{}: \"temperature\" is {}, expected >= 0", source, *g.temperature);
  g.top_p = f.opt_number("top_p");
  FP4_CHECK(!g.top_p || (*g.top_p > 0 && *g.top_p <= 1), "{}: \"top_p\" is {}, expected a value in (0, 1]", source,
            *g.top_p);
  g.top_k = f.opt_int("top_k");
  FP4_CHECK(!g.top_k || *g.top_k >= 0, "{}: \"top_k\" is {}, expected >= 0", source, *g.top_k);
  g.repetition_penalty = f.opt_number("repetition_penalty");
  FP4_CHECK(!g.repetition_penalty || *g.repetition_penalty > 0, "{}: \"repetition_penalty\" is {}, expected > 0",
            source, *g.repetition_penalty);
  g.max_new_tokens = f.opt_int("max_new_tokens");
  FP4_CHECK(!g.max_new_tokens || *g.max_new_tokens >= 0, "{}: \"max_new_tokens\" is {}, expected >= 0", source,
            *g.max_new_tokens);
  g.max_length = f.opt_int("max_length");
  FP4_CHECK(!g.max_length || *g.max_length >= 0, "{}: \"max_length\" is {}, expected >= 0", source, *g.max_length);
  for (int64_t id : g.eos_token_ids) {
    FP4_CHECK(id >= 0, "{}: \"eos_token_id\" holds {}, expected non-negative ids", source, id);
  }
  return g;
}

GenerationConfig load_generation_config(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string path = (fs::path(dir) / "generation_config.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  return parse_generation_config(read_text_file(path), path);
}

}  // namespace fp4::io
