#include "fp4/model/synth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/io/model_config.h"
#include "fp4/io/safetensors.h"

namespace fp4::model {
namespace {

using nlohmann::json;

json deepseek_v2_lite() {
  return {{"architectures", {"DeepseekV2ForCausalLM"}}, {"model_type", "deepseek_v2"}, {"vocab_size", 102400},
          {"hidden_size", 2048}, {"intermediate_size", 10944}, {"moe_intermediate_size", 1408},
          {"num_hidden_layers", 27}, {"num_attention_heads", 16}, {"num_key_value_heads", 16},
          {"q_lora_rank", nullptr}, {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128}, {"qk_rope_head_dim", 64},
          {"v_head_dim", 128}, {"n_routed_experts", 64}, {"n_shared_experts", 2}, {"num_experts_per_tok", 6},
          {"n_group", 1}, {"topk_group", 1}, {"topk_method", "greedy"}, {"scoring_func", "softmax"},
          {"norm_topk_prob", false}, {"routed_scaling_factor", 1.0}, {"first_k_dense_replace", 1},
          {"moe_layer_freq", 1}, {"hidden_act", "silu"}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000},
          {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096},
                            {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 0.707}, {"mscale_all_dim", 0.707}}},
          {"max_position_embeddings", 163840}, {"bos_token_id", 100000}, {"eos_token_id", 100001},
          {"tie_word_embeddings", false}, {"attention_bias", false}, {"torch_dtype", "bfloat16"}};
}

json deepseek_r1() {
  return {{"architectures", {"DeepseekV3ForCausalLM"}}, {"model_type", "deepseek_v3"}, {"vocab_size", 129280},
          {"hidden_size", 7168}, {"intermediate_size", 18432}, {"moe_intermediate_size", 2048},
          {"num_hidden_layers", 61}, {"num_attention_heads", 128}, {"num_key_value_heads", 128},
          {"q_lora_rank", 1536}, {"kv_lora_rank", 512}, {"qk_nope_head_dim", 128}, {"qk_rope_head_dim", 64},
          {"v_head_dim", 128}, {"n_routed_experts", 256}, {"n_shared_experts", 1}, {"num_experts_per_tok", 8},
          {"n_group", 8}, {"topk_group", 4}, {"topk_method", "noaux_tc"}, {"scoring_func", "sigmoid"},
          {"norm_topk_prob", true}, {"routed_scaling_factor", 2.5}, {"first_k_dense_replace", 3},
          {"moe_layer_freq", 1}, {"hidden_act", "silu"}, {"rms_norm_eps", 1e-6}, {"rope_theta", 10000},
          {"rope_scaling", {{"type", "yarn"}, {"factor", 40}, {"original_max_position_embeddings", 4096},
                            {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", 1.0}, {"mscale_all_dim", 1.0}}},
          {"max_position_embeddings", 163840}, {"bos_token_id", 0}, {"eos_token_id", 1},
          {"tie_word_embeddings", false}, {"attention_bias", false}, {"num_nextn_predict_layers", 0},
          {"torch_dtype", "bfloat16"}};
}

json llama_3_1_8b() {
  return {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", 128256},
          {"hidden_size", 4096}, {"intermediate_size", 14336}, {"num_hidden_layers", 32},
          {"num_attention_heads", 32}, {"num_key_value_heads", 8}, {"head_dim", 128}, {"hidden_act", "silu"},
          {"max_position_embeddings", 131072}, {"rms_norm_eps", 1e-5}, {"rope_theta", 500000.0},
          {"rope_scaling", {{"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                            {"original_max_position_embeddings", 8192}, {"rope_type", "llama3"}}},
          {"attention_bias", false}, {"mlp_bias", false}, {"tie_word_embeddings", false},
          {"bos_token_id", 128000}, {"eos_token_id", 128001}, {"torch_dtype", "bfloat16"}};
}

// A tensor of the checkpoint and how to fill it.
enum class Kind : uint8_t { kEmbedding, kNorm, kLinear, kBias, kCorrectionBias };
struct Planned {
  std::string name;  // module name for linears, tensor name otherwise
  Kind kind = Kind::kLinear;
  int64_t rows = 0, cols = 0;
  bool mlp = false;        // dense or expert MLP linear (NVFP4 in the FP4 recipe)
  bool never_quantized = false;  // lm_head, router
};

std::vector<Planned> plan(const io::ModelConfig& c) {
  std::vector<Planned> out;
  const int64_t h = c.hidden_size;
  auto linear = [&](std::string name, int64_t r, int64_t k, bool mlp, bool never = false) {
    out.push_back({std::move(name), Kind::kLinear, r, k, mlp, never});
  };
  auto mlp = [&](const std::string& p, int64_t inter) {
    linear(p + ".gate_proj", inter, h, true);
    linear(p + ".up_proj", inter, h, true);
    linear(p + ".down_proj", h, inter, true);
  };
  out.push_back({"model.embed_tokens.weight", Kind::kEmbedding, c.vocab_size, h});
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}", l);
    out.push_back({p + ".input_layernorm.weight", Kind::kNorm, h, 1});
    out.push_back({p + ".post_attention_layernorm.weight", Kind::kNorm, h, 1});
    const int64_t H = c.num_attention_heads;
    if (c.mla) {
      const io::MlaConfig& m = *c.mla;
      if (m.q_lora_rank > 0) {
        linear(p + ".self_attn.q_a_proj", m.q_lora_rank, h, false);
        out.push_back({p + ".self_attn.q_a_layernorm.weight", Kind::kNorm, m.q_lora_rank, 1});
        linear(p + ".self_attn.q_b_proj", H * m.qk_head_dim(), m.q_lora_rank, false);
      } else {
        linear(p + ".self_attn.q_proj", H * m.qk_head_dim(), h, false);
      }
      linear(p + ".self_attn.kv_a_proj_with_mqa", m.kv_lora_rank + m.qk_rope_head_dim, h, false);
      out.push_back({p + ".self_attn.kv_a_layernorm.weight", Kind::kNorm, m.kv_lora_rank, 1});
      linear(p + ".self_attn.kv_b_proj", H * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank, false);
      linear(p + ".self_attn.o_proj", h, H * m.v_head_dim, false);
    } else {  // GQA (Llama, Qwen2 with q/k/v biases, Qwen3 with q/k norms)
      const int64_t G = c.num_key_value_heads, D = c.head_dim;
      const std::string a = p + ".self_attn";
      linear(a + ".q_proj", H * D, h, false);
      linear(a + ".k_proj", G * D, h, false);
      linear(a + ".v_proj", G * D, h, false);
      linear(a + ".o_proj", h, H * D, false);
      if (c.qkv_bias) {
        for (const char* proj : {".q_proj", ".k_proj", ".v_proj"}) {
          out.push_back({a + proj + ".bias", Kind::kBias, (proj[1] == 'q' ? H : G) * D, 1});
        }
      }
      if (c.attention_bias) out.push_back({a + ".o_proj.bias", Kind::kBias, h, 1});
      if (c.qk_norm) {
        out.push_back({a + ".q_norm.weight", Kind::kNorm, D, 1});
        out.push_back({a + ".k_norm.weight", Kind::kNorm, D, 1});
      }
    }
    if (c.is_moe_layer(l)) {
      const io::MoeConfig& moe = *c.moe;
      linear(p + ".mlp.gate", moe.n_routed_experts, h, false, true);
      if (moe.topk_method == "noaux_tc") {
        out.push_back({p + ".mlp.gate.e_score_correction_bias", Kind::kCorrectionBias, moe.n_routed_experts, 1});
      }
      for (int64_t e = 0; e < moe.n_routed_experts; ++e) mlp(fmt::format("{}.mlp.experts.{}", p, e), moe.moe_intermediate_size);
      if (moe.n_shared_experts > 0) mlp(p + ".mlp.shared_experts", moe.moe_intermediate_size * moe.n_shared_experts);
    } else {
      mlp(p + ".mlp", c.intermediate_size);
    }
  }
  out.push_back({"model.norm.weight", Kind::kNorm, h, 1});
  if (!c.tie_word_embeddings) linear("lm_head", c.vocab_size, h, false, true);
  return out;
}

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Standard normal quantiles at (i + 0.5) / 65536, found by bisection on erfc: a 16-bit uniform draw
// indexes a Gaussian sample.
const std::array<float, 65536>& normal_table() {
  static const auto table = [] {
    std::array<float, 65536> t{};
    for (int i = 0; i < 65536; ++i) {
      const double p = (i + 0.5) / 65536.0;
      double lo = -6, hi = 6;
      for (int it = 0; it < 50; ++it) {
        const double mid = 0.5 * (lo + hi);
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
      }
      t[i] = static_cast<float>(0.5 * (lo + hi));
    }
    return t;
  }();
  return table;
}

// Typical statistics of Gaussian weights: E[max |x|] over a 16-block ≈ 2.0σ, over a whole tensor ≈ 5.5σ,
// over a 128×128 block ≈ 4.5σ.
constexpr float kBlock16Amax = 2.0f, kTensorAmax = 5.5f, kBlock128Amax = 4.5f;

struct Filler {
  const std::array<float, 65536>& normal = normal_table();
  std::array<uint8_t, 65536> e2m1{};  // code of a Gaussian block scaled so its amax sits at 6
  std::array<uint8_t, 65536> e4m3{};  // code of a Gaussian scaled so a 128×128 block's amax sits at 448
  Filler() {
    for (int i = 0; i < 65536; ++i) {
      e2m1[i] = f32_to_e2m1(normal[i] * (6.0f / kBlock16Amax));
      e4m3[i] = f32_to_e4m3(std::clamp(normal[i] * (448.0f / kBlock128Amax), -448.0f, 448.0f));
    }
  }
};

struct Spec {
  io::TensorSpec spec;
  size_t plan_index = 0;
  enum class Part : uint8_t { kBF16, kFP8, kFP8ScaleInv, kNVFP4, kNVFP4Scale, kScalar, kF32Bias } part{};
  float sigma = 0.0f;
  float scalar = 0.0f;
};

// Fills rows [r0, r1) of one stored tensor into dst.
void fill_rows(const Filler& f, const Spec& s, uint64_t seed, int64_t r0, int64_t r1, uint8_t* dst) {
  const int64_t cols = s.spec.shape.size() > 1 ? s.spec.shape[1] : 1;
  uint64_t state = seed ^ (0x51ED27ull * static_cast<uint64_t>(s.plan_index + 1)) ^ (static_cast<uint64_t>(r0) << 20);
  uint64_t bits = 0;
  int left = 0;
  auto draw16 = [&]() -> uint32_t {
    if (left == 0) {
      bits = splitmix64(state);
      left = 4;
    }
    const uint32_t v = static_cast<uint32_t>(bits & 0xFFFF);
    bits >>= 16;
    --left;
    return v;
  };
  const int64_t n = (r1 - r0) * cols;
  switch (s.part) {
    case Spec::Part::kBF16: {
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t b = f32_to_bf16(f.normal[draw16()] * s.sigma + s.scalar);
        std::memcpy(dst + 2 * i, &b, 2);
      }
      break;
    }
    case Spec::Part::kF32Bias:
      for (int64_t i = 0; i < n; ++i) {
        const float v = 2.0f + static_cast<float>(draw16()) / 65536.0f;  // V3/R1 biases sit above +2
        std::memcpy(dst + 4 * i, &v, 4);
      }
      break;
    case Spec::Part::kFP8:
      for (int64_t i = 0; i < n; ++i) dst[i] = f.e4m3[draw16()];
      break;
    case Spec::Part::kNVFP4:
      for (int64_t i = 0; i < n; ++i) dst[i] = pack_e2m1_pair(f.e2m1[draw16()], f.e2m1[draw16()]);
      break;
    case Spec::Part::kNVFP4Scale:
      // block amax / tensor amax · 448, with the block amax spread ±20% around its mean.
      for (int64_t i = 0; i < n; ++i) {
        const float amax = kBlock16Amax * (1.0f + 0.2f * f.normal[draw16()]);
        dst[i] = f32_to_ue4m3(std::clamp(448.0f * amax / kTensorAmax, 1.0f, 448.0f));
      }
      break;
    case Spec::Part::kFP8ScaleInv:
      for (int64_t i = 0; i < n; ++i) {
        const float v = s.sigma * kBlock128Amax / 448.0f * (1.0f + 0.1f * f.normal[draw16()]);
        std::memcpy(dst + 4 * i, &v, 4);
      }
      break;
    case Spec::Part::kScalar:
      std::memcpy(dst, &s.scalar, 4);
      break;
  }
}

}  // namespace

std::string synth_config_json(std::string_view like, int64_t layers) {
  json j;
  if (like == "deepseek-v2-lite") {
    j = deepseek_v2_lite();
  } else if (like == "deepseek-r1") {
    j = deepseek_r1();
  } else if (like == "llama-3.1-8b") {
    j = llama_3_1_8b();
  } else {
    fail("synth: unknown shape '{}'; known: deepseek-v2-lite, deepseek-r1, llama-3.1-8b", like);
  }
  if (layers > 0) {
    FP4_CHECK(layers <= j["num_hidden_layers"].get<int64_t>(), "synth: --layers {} exceeds the {} layers of {}", layers,
              j["num_hidden_layers"].get<int64_t>(), like);
    j["num_hidden_layers"] = layers;
    if (j.contains("first_k_dense_replace")) {
      j["first_k_dense_replace"] = std::min<int64_t>(j["first_k_dense_replace"].get<int64_t>(), layers);
    }
  }
  return j.dump(2);
}

SynthReport write_synthetic_checkpoint(const std::string& config_json, SynthEncoding encoding, uint64_t seed,
                                       const std::string& out_dir, ThreadPool& pool) {
  namespace fs = std::filesystem;
  const io::ModelConfig config = io::parse_model_config(config_json, "synth config");
  FP4_CHECK(!fs::exists(fs::path(out_dir) / "config.json"), "synth: {} already holds a config.json", out_dir);
  fs::create_directories(out_dir);
  json cfg = json::parse(config_json);
  const std::vector<Planned> tensors = plan(config);

  std::vector<Spec> specs;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Planned& t = tensors[i];
    auto add = [&](std::string name, DType dt, std::vector<int64_t> shape, Spec::Part part, float sigma, float scalar) {
      Spec s;
      s.spec = {std::move(name), dt, std::move(shape)};
      s.plan_index = i;
      s.part = part;
      s.sigma = sigma;
      s.scalar = scalar;
      specs.push_back(std::move(s));
    };
    switch (t.kind) {
      case Kind::kEmbedding: add(t.name, DType::kBF16, {t.rows, t.cols}, Spec::Part::kBF16, 0.02f, 0.0f); break;
      case Kind::kNorm: add(t.name, DType::kBF16, {t.rows}, Spec::Part::kBF16, 0.05f, 1.0f); break;
      case Kind::kBias: add(t.name, DType::kBF16, {t.rows}, Spec::Part::kBF16, 0.02f, 0.0f); break;
      case Kind::kCorrectionBias: add(t.name, DType::kF32, {t.rows}, Spec::Part::kF32Bias, 0.0f, 0.0f); break;
      case Kind::kLinear: {
        const float sigma = 1.0f / std::sqrt(static_cast<float>(t.cols));
        const bool nvfp4 = encoding == SynthEncoding::kNVFP4 && t.mlp;
        const bool fp8 = encoding == SynthEncoding::kFP8 && !t.never_quantized;
        if (nvfp4) {
          add(t.name + ".weight", DType::kU8, {t.rows, t.cols / 2}, Spec::Part::kNVFP4, sigma, 0.0f);
          add(t.name + ".weight_scale", DType::kF8_E4M3, {t.rows, t.cols / 16}, Spec::Part::kNVFP4Scale, sigma, 0.0f);
          add(t.name + ".weight_scale_2", DType::kF32, {}, Spec::Part::kScalar, 0.0f, sigma * kTensorAmax / (6.0f * 448.0f));
          add(t.name + ".input_scale", DType::kF32, {}, Spec::Part::kScalar, 0.0f, 8.0f / (6.0f * 448.0f));
        } else if (fp8) {
          add(t.name + ".weight", DType::kF8_E4M3, {t.rows, t.cols}, Spec::Part::kFP8, sigma, 0.0f);
          add(t.name + ".weight_scale_inv", DType::kF32, {(t.rows + 127) / 128, (t.cols + 127) / 128},
              Spec::Part::kFP8ScaleInv, sigma, 0.0f);
        } else {
          add(t.name + ".weight", DType::kBF16, {t.rows, t.cols}, Spec::Part::kBF16, sigma, 0.0f);
        }
        break;
      }
    }
  }

  std::vector<io::TensorSpec> writer_specs;
  for (const Spec& s : specs) writer_specs.push_back(s.spec);
  io::SafetensorsWriterOptions wo;
  wo.max_shard_bytes = 4'000'000'000;
  io::SafetensorsWriter writer(out_dir, writer_specs, wo);
  const Filler filler;
  SynthReport report;
  std::vector<uint8_t> chunk;
  constexpr int64_t kTaskRows = 16;  // fixed task size: the output does not depend on the thread count
  for (const Spec& s : specs) {
    const int64_t rows = s.spec.shape.empty() ? 1 : s.spec.shape[0];
    const uint64_t row_bytes = std::max<uint64_t>(1, s.spec.nbytes() / static_cast<uint64_t>(rows));
    const int64_t chunk_rows = std::max<int64_t>(kTaskRows, (int64_t{64} << 20) / static_cast<int64_t>(row_bytes) / kTaskRows * kTaskRows);
    for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
      const int64_t r1 = std::min(rows, r0 + chunk_rows);
      chunk.resize(static_cast<size_t>(static_cast<uint64_t>(r1 - r0) * row_bytes));
      const int64_t tasks = (r1 - r0 + kTaskRows - 1) / kTaskRows;
      pool.parallel_for(tasks, [&](int64_t task, int) {
        const int64_t a = r0 + task * kTaskRows, b = std::min(r1, a + kTaskRows);
        fill_rows(filler, s, seed, a, b, chunk.data() + static_cast<size_t>(static_cast<uint64_t>(a - r0) * row_bytes));
      });
      writer.append(s.spec.name, chunk);
    }
    report.bytes += s.spec.nbytes();
    report.tensors += 1;
  }
  report.shards = static_cast<int>(writer.finish().size());

  if (encoding == SynthEncoding::kFP8) {
    cfg["quantization_config"] = {{"activation_scheme", "dynamic"}, {"fmt", "e4m3"}, {"quant_method", "fp8"},
                                  {"weight_block_size", {128, 128}}};
  }
  std::ofstream(fs::path(out_dir) / "config.json") << cfg.dump(2) << "\n";
  if (encoding == SynthEncoding::kNVFP4) {
    json exclude = json::array({"lm_head"});
    for (int64_t l = 0; l < config.num_hidden_layers; ++l) exclude.push_back(fmt::format("model.layers.{}.self_attn*", l));
    json manifest = {{"producer", {{"name", "modelopt"}, {"version", "0.31.0"}}},
                     {"quantization", {{"quant_algo", "NVFP4"}, {"kv_cache_quant_algo", nullptr}, {"group_size", 16},
                                       {"exclude_modules", exclude}}}};
    std::ofstream(fs::path(out_dir) / "hf_quant_config.json") << manifest.dump(2) << "\n";
  }
  return report;
}

}  // namespace fp4::model
