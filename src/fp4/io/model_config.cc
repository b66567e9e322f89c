#include "fp4/io/model_config.h"

#include <filesystem>

#include "fp4/base/error.h"
#include "fp4/base/mapped_file.h"
#include "fp4/io/json_fields.h"

namespace fp4::io {
namespace {

using detail::Fields;

// Sanity bounds: far above any real model, low enough that products of a few of them cannot overflow
// int64 (2^20 · 2^20 · 2^24 < 2^63) anywhere shapes or byte counts are derived from the config.
constexpr int64_t kMaxDim = int64_t{1} << 20;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxExperts = 65536;

struct FamilyDefaults {
  int64_t max_position_embeddings;
  double rms_norm_eps;
};

// transformers' configuration-class defaults for fields a config.json may omit.
FamilyDefaults defaults_for(Architecture a) {
  switch (a) {
    case Architecture::kDeepseekV3: return {4096, 1e-6};
    case Architecture::kDeepseekV2: return {2048, 1e-6};
    case Architecture::kLlama: return {2048, 1e-6};
    case Architecture::kQwen2: return {32768, 1e-6};
    case Architecture::kQwen3: return {32768, 1e-6};
  }
  return {2048, 1e-6};
}

std::optional<Architecture> architecture_from_name(std::string_view name) {
  for (auto a : {Architecture::kDeepseekV3, Architecture::kDeepseekV2, Architecture::kLlama, Architecture::kQwen2,
                 Architecture::kQwen3}) {
    if (architecture_name(a) == name) return a;
  }
  return std::nullopt;
}

RopeScaling parse_rope_scaling(const Fields& f, int64_t max_position_embeddings) {
  RopeScaling r;
  std::string type = f.has("rope_type") ? *f.opt_string("rope_type") : f.string_or("type", "default");
  if (type == "default") return r;
  if (type == "linear") {
    r.type = RopeScaling::Type::kLinear;
  } else if (type == "dynamic") {
    r.type = RopeScaling::Type::kDynamic;
  } else if (type == "yarn") {
    r.type = RopeScaling::Type::kYarn;
  } else if (type == "llama3") {
    r.type = RopeScaling::Type::kLlama3;
  } else {
    fail("{}: rope type '{}' is not supported; accepted: default, linear, dynamic, yarn, llama3", f.where(), type);
  }
  FP4_CHECK(f.has("factor"), "{}: rope type '{}' needs \"factor\"", f.where(), type);
  r.factor = *f.opt_number("factor");
  FP4_CHECK(r.factor >= 1.0, "{}: \"factor\" is {}, expected >= 1", f.where(), r.factor);
  r.original_max_position_embeddings =
      f.int_in("original_max_position_embeddings", max_position_embeddings, 1, kMaxVocab * 64);
  if (r.type == RopeScaling::Type::kYarn) {
    r.beta_fast = f.positive_number_or("beta_fast", 32.0);
    r.beta_slow = f.positive_number_or("beta_slow", 1.0);
    r.mscale = f.number_or("mscale", 0.0);
    r.mscale_all_dim = f.number_or("mscale_all_dim", 0.0);
    r.attention_factor = f.opt_number("attention_factor");
    r.attn_factor = f.opt_number("attn_factor");
  }
  if (r.type == RopeScaling::Type::kLlama3) {
    FP4_CHECK(f.has("low_freq_factor") && f.has("high_freq_factor") && f.has("original_max_position_embeddings"),
              "{}: llama3 rope needs \"low_freq_factor\", \"high_freq_factor\" and \"original_max_position_embeddings\"",
              f.where());
    r.low_freq_factor = f.positive_number_or("low_freq_factor", 1.0);
    r.high_freq_factor = f.positive_number_or("high_freq_factor", 4.0);
    FP4_CHECK(r.high_freq_factor > r.low_freq_factor, "{}: high_freq_factor {} must exceed low_freq_factor {}",
              f.where(), r.high_freq_factor, r.low_freq_factor);
  }
  return r;
}

void parse_deepseek(const Fields& f, ModelConfig& c) {
  const bool v3 = c.arch == Architecture::kDeepseekV3;
  MlaConfig mla;
  // HF's default for an absent q_lora_rank is 1536; an explicit null (V2-Lite) means no query compression.
  if (f.has("q_lora_rank")) {
    mla.q_lora_rank = f.int_in("q_lora_rank", 0, 1, kMaxDim);
  } else {
    mla.q_lora_rank = f.present("q_lora_rank") ? 0 : 1536;
  }
  mla.kv_lora_rank = f.int_in("kv_lora_rank", 512, 1, kMaxDim);
  mla.qk_nope_head_dim = f.int_in("qk_nope_head_dim", 128, 1, kMaxDim);
  mla.qk_rope_head_dim = f.int_in("qk_rope_head_dim", 64, 2, kMaxDim);
  mla.v_head_dim = f.int_in("v_head_dim", 128, 1, kMaxDim);
  FP4_CHECK(mla.qk_rope_head_dim % 2 == 0, "{}: \"qk_rope_head_dim\" is {}, expected an even number", f.where(),
            mla.qk_rope_head_dim);
  c.mla = mla;
  c.head_dim = mla.qk_rope_head_dim;  // as HF's DeepseekV3Config defines head_dim (the RoPE width)
  c.rope_interleave = f.bool_or("rope_interleave", true);

  if (f.has("n_routed_experts")) {
    MoeConfig m;
    m.n_routed_experts = f.int_in("n_routed_experts", 0, 1, kMaxExperts);
    m.n_shared_experts = f.int_in("n_shared_experts", 0, 0, kMaxExperts);
    m.num_experts_per_tok = f.int_in("num_experts_per_tok", v3 ? 8 : 0, 1, m.n_routed_experts);
    m.n_group = f.int_in("n_group", 1, 1, m.n_routed_experts);
    m.topk_group = f.int_in("topk_group", 1, 1, m.n_group);
    FP4_CHECK(m.n_routed_experts % m.n_group == 0, "{}: n_routed_experts {} is not divisible by n_group {}", f.where(),
              m.n_routed_experts, m.n_group);
    m.routed_scaling_factor = f.positive_number_or("routed_scaling_factor", v3 ? 2.5 : 1.0);
    m.norm_topk_prob = f.bool_or("norm_topk_prob", v3);
    m.scoring_func = f.string_or("scoring_func", v3 ? "sigmoid" : "softmax");
    FP4_CHECK(m.scoring_func == "sigmoid" || m.scoring_func == "softmax",
              "{}: scoring_func '{}' is not supported; accepted: sigmoid, softmax", f.where(), m.scoring_func);
    m.topk_method = f.string_or("topk_method", v3 ? "noaux_tc" : "greedy");
    FP4_CHECK(m.topk_method == "noaux_tc" || m.topk_method == "greedy" || m.topk_method == "group_limited_greedy",
              "{}: topk_method '{}' is not supported; accepted: noaux_tc, greedy, group_limited_greedy", f.where(),
              m.topk_method);
    m.first_k_dense_replace = f.int_in("first_k_dense_replace", 0, 0, c.num_hidden_layers);
    m.moe_layer_freq = f.int_in("moe_layer_freq", 1, 1, kMaxLayers);
    m.moe_intermediate_size = f.int_in("moe_intermediate_size", 0, 1, kMaxDim);
    c.moe = m;
  }
  c.num_nextn_predict_layers = f.int_in("num_nextn_predict_layers", 0, 0, 16);
}

}  // namespace

std::string_view architecture_name(Architecture a) {
  switch (a) {
    case Architecture::kDeepseekV3: return "deepseek_v3";
    case Architecture::kDeepseekV2: return "deepseek_v2";
    case Architecture::kLlama: return "llama";
    case Architecture::kQwen2: return "qwen2";
    case Architecture::kQwen3: return "qwen3";
  }
  return "?";
}

std::string_view accepted_model_types() { return "deepseek_v3, deepseek_v2, llama, qwen2, qwen3"; }

std::string_view rope_type_name(RopeScaling::Type t) {
  switch (t) {
    case RopeScaling::Type::kNone: return "default";
    case RopeScaling::Type::kLinear: return "linear";
    case RopeScaling::Type::kDynamic: return "dynamic";
    case RopeScaling::Type::kYarn: return "yarn";
    case RopeScaling::Type::kLlama3: return "llama3";
  }
  return "?";
}

bool ModelConfig::is_moe_layer(int64_t layer) const {
  return moe.has_value() && layer >= moe->first_k_dense_replace && layer % moe->moe_layer_freq == 0;
}

int64_t ModelConfig::kv_cache_elements_per_token_per_layer() const {
  if (mla) return mla->kv_lora_rank + mla->qk_rope_head_dim;
  return 2 * num_key_value_heads * head_dim;
}

ModelConfig parse_model_config(std::string_view json_text, std::string_view source) {
  auto root = detail::parse_json_object(json_text, source);
  Fields f(root, std::string(source));
  ModelConfig c;
  c.source = source;

  auto model_type = f.opt_string("model_type");
  FP4_CHECK(model_type.has_value(), "{}: missing \"model_type\"; accepted: {}", source, accepted_model_types());
  auto arch = architecture_from_name(*model_type);
  FP4_CHECK(arch.has_value(), "{}: model_type '{}' is not supported; accepted: {}", source, *model_type,
            accepted_model_types());
  c.arch = *arch;
  c.model_type = *model_type;
  c.architectures = f.string_list("architectures");

  c.vocab_size = f.req_int("vocab_size");
  FP4_CHECK(c.vocab_size >= 1 && c.vocab_size <= kMaxVocab, "{}: \"vocab_size\" is {}, expected 1..{}", source,
            c.vocab_size, kMaxVocab);
  c.hidden_size = f.req_int("hidden_size");
  FP4_CHECK(c.hidden_size >= 1 && c.hidden_size <= kMaxDim, "{}: \"hidden_size\" is {}, expected 1..{}", source,
            c.hidden_size, kMaxDim);
  c.intermediate_size = f.req_int("intermediate_size");
  FP4_CHECK(c.intermediate_size >= 1 && c.intermediate_size <= kMaxDim, "{}: \"intermediate_size\" is {}, expected 1..{}",
            source, c.intermediate_size, kMaxDim);
  c.num_hidden_layers = f.req_int("num_hidden_layers");
  FP4_CHECK(c.num_hidden_layers >= 1 && c.num_hidden_layers <= kMaxLayers, "{}: \"num_hidden_layers\" is {}, expected 1..{}",
            source, c.num_hidden_layers, kMaxLayers);
  c.num_attention_heads = f.req_int("num_attention_heads");
  FP4_CHECK(c.num_attention_heads >= 1 && c.num_attention_heads <= kMaxDim,
            "{}: \"num_attention_heads\" is {}, expected 1..{}", source, c.num_attention_heads, kMaxDim);
  c.num_key_value_heads = f.int_in("num_key_value_heads", c.num_attention_heads, 1, c.num_attention_heads);
  FP4_CHECK(c.num_attention_heads % c.num_key_value_heads == 0,
            "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", source, c.num_attention_heads,
            c.num_key_value_heads);

  FamilyDefaults defaults = defaults_for(c.arch);
  c.max_position_embeddings = f.int_in("max_position_embeddings", defaults.max_position_embeddings, 1, kMaxVocab * 64);
  c.rms_norm_eps = f.positive_number_or("rms_norm_eps", defaults.rms_norm_eps);
  c.tie_word_embeddings = f.bool_or("tie_word_embeddings", false);
  c.hidden_act = f.string_or("hidden_act", "silu");
  FP4_CHECK(c.hidden_act == "silu", "{}: hidden_act '{}' is not supported; accepted: silu", source, c.hidden_act);
  c.torch_dtype = f.has("torch_dtype") ? *f.opt_string("torch_dtype") : f.string_or("dtype", "");
  c.bos_token_id = f.opt_int("bos_token_id");
  c.eos_token_ids = f.int_list("eos_token_id");

  // Rope: transformers ≥ 5 folds rope_theta and the scaling into "rope_parameters"; older files have
  // "rope_theta" and "rope_scaling" side by side.
  std::optional<Fields> rope = f.opt_object("rope_scaling");
  std::optional<Fields> rope_params = f.opt_object("rope_parameters");
  if (!rope && rope_params) rope = rope_params;
  double theta_fallback = rope_params ? rope_params->number_or("rope_theta", 10000.0) : 10000.0;
  c.rope_theta = f.positive_number_or("rope_theta", theta_fallback);
  if (rope) c.rope_scaling = parse_rope_scaling(*rope, c.max_position_embeddings);

  switch (c.arch) {
    case Architecture::kDeepseekV3:
    case Architecture::kDeepseekV2:
      c.attention_bias = f.bool_or("attention_bias", false);
      FP4_CHECK(!c.attention_bias, "{}: attention_bias true is not supported for {}", source, c.model_type);
      parse_deepseek(f, c);
      break;
    case Architecture::kLlama:
    case Architecture::kQwen2:
    case Architecture::kQwen3: {
      bool explicit_head_dim = c.arch == Architecture::kQwen3 || f.has("head_dim");
      if (explicit_head_dim && f.has("head_dim")) {
        c.head_dim = f.int_in("head_dim", 0, 2, kMaxDim);
      } else if (c.arch == Architecture::kQwen3) {
        c.head_dim = 128;  // Qwen3Config default
      } else {
        FP4_CHECK(c.hidden_size % c.num_attention_heads == 0,
                  "{}: hidden_size {} is not divisible by num_attention_heads {} (and no head_dim is given)", source,
                  c.hidden_size, c.num_attention_heads);
        c.head_dim = c.hidden_size / c.num_attention_heads;
      }
      FP4_CHECK(c.head_dim % 2 == 0, "{}: head_dim {} must be even for rotary embeddings", source, c.head_dim);
      c.rope_interleave = false;
      c.attention_bias = f.bool_or("attention_bias", false);
      c.qkv_bias = c.arch == Architecture::kQwen2 || c.attention_bias;
      c.qk_norm = c.arch == Architecture::kQwen3;
      if (c.arch == Architecture::kQwen2) {
        FP4_CHECK(!f.bool_or("use_sliding_window", false), "{}: use_sliding_window true is not supported", source);
      }
      break;
    }
  }
  return c;
}

ModelConfig load_model_config(const std::string& dir_or_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string path = fs::is_directory(dir_or_file, ec) ? (fs::path(dir_or_file) / "config.json").string() : dir_or_file;
  FP4_CHECK(fs::exists(path, ec), "{}: not found (a model folder needs config.json)", path);
  return parse_model_config(read_text_file(path), path);
}

}  // namespace fp4::io
