#include "fp4/runtime/model_bench.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "fp4/base/dtype.h"
#include "fp4/base/error.h"
#include "fp4/runtime/kv_cache.h"

namespace fp4::runtime {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Parses the decimal index at the front of `rest` ("12.mlp..." → 12, rest "mlp..."); -1 when none.
int64_t take_index(std::string_view& rest) {
  int64_t v = -1;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
  if (ec != std::errc() || end == rest.data() + rest.size() || *end != '.') return -1;
  rest.remove_prefix(static_cast<size_t>(end - rest.data()) + 1);
  return v;
}

// Bytes the forward pass reads for one tensor: 1-D weights/biases are converted to f32 at load; linear
// weights and their scales are read as stored.
uint64_t read_bytes(const io::TensorInfo& t) {
  const bool vector = t.shape.size() == 1 && (ends_with(t.name, ".weight") || ends_with(t.name, ".bias") ||
                                              ends_with(t.name, "e_score_correction_bias"));
  return vector ? static_cast<uint64_t>(t.numel()) * sizeof(float) : t.nbytes();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

uint64_t DecodeByteCount::fixed() const {
  return embedding_row + attention + absorbed_kv_b + dense_mlp + router + shared_experts + norms + head;
}

uint64_t DecodeByteCount::expected_routed() const {
  // Σ over MoE layers of top_k × mean expert bytes; in integer arithmetic, rounded down per layer.
  uint64_t total = 0;
  for (const auto& layer : expert_bytes) {
    if (layer.empty()) continue;
    const uint64_t sum = std::accumulate(layer.begin(), layer.end(), uint64_t{0});
    total += sum * static_cast<uint64_t>(top_k) / layer.size();
  }
  return total;
}

uint64_t DecodeByteCount::routed(std::span<const model::RoutingRecord> records) const {
  uint64_t total = 0;
  for (const model::RoutingRecord& r : records) {
    FP4_CHECK(r.layer >= 0 && r.layer < static_cast<int64_t>(expert_bytes.size()) &&
                  !expert_bytes[static_cast<size_t>(r.layer)].empty(),
              "decode byte count: routing record for layer {} which has no routed experts", r.layer);
    const auto& layer = expert_bytes[static_cast<size_t>(r.layer)];
    // An expert selected by several tokens of one call runs once over all of them (moe.h).
    const std::set<int32_t> distinct(r.experts.begin(), r.experts.end());
    for (int32_t e : distinct) {
      FP4_CHECK(e >= 0 && static_cast<size_t>(e) < layer.size(), "decode byte count: layer {} has no expert {}",
                r.layer, e);
      total += layer[static_cast<size_t>(e)];
    }
  }
  return total;
}

uint64_t DecodeByteCount::all_experts() const {
  uint64_t total = fixed();
  for (const auto& layer : expert_bytes) total += std::accumulate(layer.begin(), layer.end(), uint64_t{0});
  return total;
}

DecodeByteCount count_decode_bytes(const io::HfCheckpoint& checkpoint, const io::ModelConfig& config) {
  DecodeByteCount c;
  c.layers = config.num_hidden_layers;
  c.kv_row_bytes = static_cast<uint64_t>(config.kv_cache_elements_per_token_per_layer()) * sizeof(float);
  c.expert_bytes.resize(static_cast<size_t>(config.num_hidden_layers));
  if (config.moe) {
    c.top_k = config.moe->num_experts_per_tok;
    for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
      if (config.is_moe_layer(l)) c.expert_bytes[static_cast<size_t>(l)].assign(static_cast<size_t>(config.moe->n_routed_experts), 0);
    }
  }
  const bool tied_head = !checkpoint.contains("lm_head.weight") && config.tie_word_embeddings;
  bool saw_embedding = false;
  checkpoint.for_each([&](const io::TensorView& v) {
    const io::TensorInfo& t = *v.info;
    const std::string_view name = t.name;
    if (name == "model.embed_tokens.weight") {
      FP4_CHECK(t.shape.size() == 2 && t.shape[0] > 0, "{}: model.embed_tokens.weight is not a [vocab, hidden] table",
                checkpoint.dir());
      c.embedding_row = t.nbytes() / static_cast<uint64_t>(t.shape[0]);
      if (tied_head) c.head += t.nbytes();  // the tied output head reads the whole table
      saw_embedding = true;
      return;
    }
    if (starts_with(name, "lm_head.")) {
      c.head += read_bytes(t);
      return;
    }
    if (name == "model.norm.weight") {
      c.norms += read_bytes(t);
      return;
    }
    std::string_view rest = name;
    const bool in_layer = starts_with(rest, "model.layers.");
    if (in_layer) rest.remove_prefix(std::string_view("model.layers.").size());
    const int64_t layer = in_layer ? take_index(rest) : -1;
    FP4_CHECK(layer >= 0, "{}: tensor '{}' is not part of a decode step the byte count knows", checkpoint.dir(), name);
    // Never read by the forward pass: MTP layers, FP8 KV-cache scales, rotary buffers.
    if (layer >= config.num_hidden_layers || ends_with(name, ".k_scale") || ends_with(name, ".v_scale") ||
        ends_with(name, "rotary_emb.inv_freq")) {
      return;
    }
    const uint64_t bytes = read_bytes(t);
    if (starts_with(rest, "mlp.experts.")) {
      rest.remove_prefix(std::string_view("mlp.experts.").size());
      const int64_t e = take_index(rest);
      auto& experts = c.expert_bytes[static_cast<size_t>(layer)];
      FP4_CHECK(e >= 0 && static_cast<size_t>(e) < experts.size(),
                "{}: tensor '{}' names an expert the config does not have", checkpoint.dir(), name);
      experts[static_cast<size_t>(e)] += bytes;
    } else if (starts_with(rest, "mlp.shared_experts.")) {
      c.shared_experts += bytes;
    } else if (starts_with(rest, "mlp.gate.")) {  // the router ("mlp.gate_proj" is a dense MLP's)
      c.router += bytes;
    } else if (starts_with(rest, "mlp.")) {
      c.dense_mlp += bytes;
    } else if (starts_with(rest, "self_attn.kv_b_proj.") && config.mla) {
      // Decode reads the absorbed copies instead (counted once per layer below).
    } else if (starts_with(rest, "self_attn.")) {
      c.attention += bytes;
    } else if (ends_with(rest, "layernorm.weight")) {
      c.norms += bytes;
    } else {
      fail("{}: tensor '{}' is not part of a decode step the byte count knows", checkpoint.dir(), name);
    }
  });
  FP4_CHECK(saw_embedding, "{}: no tensor 'model.embed_tokens.weight'", checkpoint.dir());
  if (config.mla) {
    // Per layer and head: W_UK_hᵀ [L, P] and W_UV_h [V, L], BF16 when kv_b is BF16, else F32 (mla.h).
    const io::MlaConfig& m = *config.mla;
    const uint64_t elements = static_cast<uint64_t>(config.num_attention_heads) *
                              static_cast<uint64_t>(m.kv_lora_rank * (m.qk_nope_head_dim + m.v_head_dim));
    for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
      const std::string name = "model.layers." + std::to_string(l) + ".self_attn.kv_b_proj.weight";
      const io::TensorInfo* kvb = checkpoint.find(name);
      FP4_CHECK(kvb != nullptr, "{}: no tensor '{}'", checkpoint.dir(), name);
      const bool bf16 = kvb->dtype == DType::kBF16 && !checkpoint.contains(name + "_scale_inv");
      c.absorbed_kv_b += elements * (bf16 ? 2 : 4);
    }
  }
  return c;
}

double ModelBenchResult::decode_seconds() const {
  double s = 0;
  for (const DecodeStep& d : steps) s += d.seconds;
  return s;
}

double ModelBenchResult::decode_tokens_per_second() const {
  const double s = decode_seconds();
  return s > 0 ? static_cast<double>(steps.size()) / s : 0.0;
}

double ModelBenchResult::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0.0;
}

double ModelBenchResult::bytes_per_token() const {
  if (steps.empty()) return 0.0;
  double total = 0;
  for (const DecodeStep& d : steps) total += static_cast<double>(fixed_bytes + d.routed_bytes + d.kv_bytes);
  return total / static_cast<double>(steps.size());
}

uint64_t peak_resident_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;  // "… kB"
  }
  return 0;
}

bool reset_peak_resident_bytes() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

ModelBenchResult run_model_bench(model::Model& model, const DecodeByteCount& bytes, ThreadPool& pool,
                                 const ModelBenchOptions& options) {
  FP4_CHECK(options.prompt_tokens > 0 && options.decode_tokens > 0,
            "bench: prompt tokens {} and decode tokens {} must be positive", options.prompt_tokens,
            options.decode_tokens);
  const int64_t total = options.prompt_tokens + options.decode_tokens;
  FP4_CHECK(model.config().max_position_embeddings <= 0 || total <= model.config().max_position_embeddings,
            "bench: prompt ({}) + decode ({}) tokens exceed max_position_embeddings {}", options.prompt_tokens,
            options.decode_tokens, model.config().max_position_embeddings);
  // The roofline is the bandwidth of the memory the weights are in: host memory for a CPU model, the
  // model's own measurement (device memory) for a GPU model.
  auto probe = [&] {
    constexpr int kPasses = 5;
    const double device_gbs = model.weight_memory_bandwidth(options.bandwidth_buffer_bytes, kPasses);
    if (device_gbs <= 0.0) return measure_read_bandwidth(pool, options.bandwidth_buffer_bytes);
    const uint64_t bytes = options.bandwidth_buffer_bytes == 0 ? uint64_t{1} << 30 : options.bandwidth_buffer_bytes;
    return BandwidthMeasurement{device_gbs, bytes, kPasses, 0, "device-to-device copy, bytes read + written"};
  };
  ModelBenchResult r;
  r.load_average_before = load_average_1min();
  r.bandwidth_before = probe();
  // The probe's buffer is freed; without a reset it would stay in the peak RSS of a small model.
  reset_peak_resident_bytes();
  r.prompt_tokens = options.prompt_tokens;
  r.fixed_bytes = bytes.fixed();
  r.expected_routed_bytes = bytes.expected_routed();

  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(model.vocab_size() - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(options.prompt_tokens));  // [prompt_tokens]
  for (int32_t& t : prompt) t = id(rng);

  KvCache cache = KvCache::for_model(model, total, options.block_size);
  SequenceKv seq(cache);
  seq.reserve(total);
  r.kv_cache_bytes = cache.bytes();
  std::vector<float> logits(static_cast<size_t>(model.vocab_size()));  // [1, vocab]
  model::ForwardOptions fwd;
  fwd.nvfp4_activations = options.nvfp4_activations;

  auto t0 = std::chrono::steady_clock::now();
  model.forward(prompt, 0, seq.view(), fwd, logits.data());
  r.prefill_seconds = seconds_since(t0);

  std::vector<model::RoutingRecord> routing;
  fwd.routing = &routing;
  int32_t token = argmax(logits);
  for (int64_t i = 0; i < options.decode_tokens; ++i) {
    const int64_t pos = options.prompt_tokens + i;
    routing.clear();
    t0 = std::chrono::steady_clock::now();
    model.forward(std::span<const int32_t>(&token, 1), pos, seq.view(), fwd, logits.data());
    token = argmax(logits);
    DecodeStep step;
    step.seconds = seconds_since(t0);
    step.position = pos;
    step.routed_bytes = bytes.routed(routing);
    step.kv_bytes = bytes.kv_read(pos + 1);
    r.steps.push_back(step);
  }
  r.peak_rss_bytes = peak_resident_bytes();
  r.bandwidth_after = probe();
  r.load_average_after = load_average_1min();
  return r;
}

}  // namespace fp4::runtime
