// End-to-end speed of one model at batch 1 (`fp4serve bench`): prefill of a seeded random prompt, then
// greedy decode steps, each step's bytes counted from what the forward pass actually reads, set against
// the memory read bandwidth measured in the same run (the decode roofline, DESIGN.md §6).
//
// Bytes of one decode step at position pos (each in the encoding the forward pass reads it in):
//   fixed: one embedding row; every layer's attention linears (weight + scales) and norms; the
//          absorbed MLA copies of kv_b (what the absorbed decode form reads instead of kv_b itself:
//          BF16 when kv_b is BF16, else F32); dense MLPs; routers; shared experts; final norm + lm_head
//   routed: gate/up/down (+ scales) of the experts the router actually selected in this step
//   KV: (pos + 1) cached rows of kv_row_floats f32 per layer
// Small vectors (norm weights, biases, router correction bias) are converted to f32 at load, so they count
// 4 bytes per element. MTP layers, KV-cache scales and rotary buffers are never read.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/model_config.h"
#include "fp4/model/model.h"
#include "fp4/runtime/bandwidth_probe.h"

namespace fp4::runtime {

struct DecodeByteCount {
  uint64_t embedding_row = 0;
  uint64_t attention = 0;      // all layers: linears (kv_b excluded for MLA) + q/k norms + biases
  uint64_t absorbed_kv_b = 0;  // MLA only: the per-head W_UKᵀ / W_UV copies of every layer
  uint64_t dense_mlp = 0;
  uint64_t router = 0;          // gate weights + correction biases
  uint64_t shared_experts = 0;
  uint64_t norms = 0;           // layer norms + final norm
  uint64_t head = 0;            // lm_head (or the tied embedding table)
  std::vector<std::vector<uint64_t>> expert_bytes;  // [layer][expert]; empty for dense layers
  int64_t top_k = 0;                                // experts per token (0 for dense models)
  uint64_t kv_row_bytes = 0;                        // one cached token of one layer
  int64_t layers = 0;

  // Bytes every decode step reads whatever the routing.
  uint64_t fixed() const;
  // top_k × the mean expert size of every MoE layer: what a step reads on average by construction.
  uint64_t expected_routed() const;
  // Routed expert bytes of the distinct experts selected in each record (one record per MoE layer).
  uint64_t routed(std::span<const model::RoutingRecord> records) const;
  // Cached rows a step at `kv_tokens` visible tokens reads, over all layers.
  uint64_t kv_read(int64_t kv_tokens) const { return static_cast<uint64_t>(kv_tokens) * kv_row_bytes * layers; }
  // Bytes of every tensor counted above with all experts (a cross-check against the checkpoint).
  uint64_t all_experts() const;
};

// Counts the bytes of `checkpoint` (opened header-only is enough) that a decode step of a model with
// `config` reads. Throws fp4::Error naming a tensor the count cannot place.
DecodeByteCount count_decode_bytes(const io::HfCheckpoint& checkpoint, const io::ModelConfig& config);

struct ModelBenchOptions {
  int64_t prompt_tokens = 512;
  int64_t decode_tokens = 64;
  uint64_t seed = 1;
  int64_t block_size = 16;
  size_t bandwidth_buffer_bytes = 0;  // 0: the probe's default
  cpu::ActivationPrecision nvfp4_activations = cpu::ActivationPrecision::kF32;  // f32 or int8 (W4A8)
};

struct DecodeStep {
  int64_t position = 0;
  double seconds = 0;
  uint64_t routed_bytes = 0;
  uint64_t kv_bytes = 0;
};

struct ModelBenchResult {
  // The probe runs before prefill and after decode; on a shared machine the two differ, and the higher
  // one (least contended) is the roofline.
  BandwidthMeasurement bandwidth_before, bandwidth_after;
  const BandwidthMeasurement& bandwidth() const {
    return bandwidth_after.gb_per_second >= bandwidth_before.gb_per_second ? bandwidth_after : bandwidth_before;
  }
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;
  std::vector<DecodeStep> steps;
  uint64_t fixed_bytes = 0;
  uint64_t expected_routed_bytes = 0;
  uint64_t kv_cache_bytes = 0;   // allocated KV pool
  uint64_t peak_rss_bytes = 0;   // VmHWM after decoding; reset after the first probe, read before the second
  double load_average_before = -1, load_average_after = -1;

  double decode_seconds() const;
  double decode_tokens_per_second() const;
  double prefill_tokens_per_second() const;
  // Mean bytes one decode step read (fixed + routed + KV).
  double bytes_per_token() const;
  double achieved_gb_per_second() const { return bytes_per_token() * decode_tokens_per_second() / 1e9; }
};

// Measures the read bandwidth, runs prefill (one forward over prompt_tokens seeded random ids), then
// decode_tokens greedy steps recording the experts each step routes to, then measures the bandwidth again. Throws fp4::Error for
// non-positive token counts or a run longer than max_position_embeddings.
ModelBenchResult run_model_bench(model::Model& model, const DecodeByteCount& bytes, ThreadPool& pool,
                                 const ModelBenchOptions& options);

// VmHWM of /proc/self/status in bytes (0 when unavailable).
uint64_t peak_resident_bytes();
// Resets VmHWM to the current RSS (Linux clear_refs "5"); false when the kernel does not allow it.
bool reset_peak_resident_bytes();

}  // namespace fp4::runtime
