// A loaded model: config + weights bound in their stored encodings + a forward pass over one sequence.
//
// Families (one implementation file each): deepseek_v3.cc covers DeepSeek-V3/R1/R1-0528 and V2/V2-Lite
// (MLA + MoE), llama.cc covers Llama 3.x, Qwen2 and Qwen3 (GQA + dense MLP). Everything a checkpoint
// must contain is bound and checked by Model::load before any compute; a missing tensor, a wrong shape or
// an unsupported encoding is one fp4::Error line naming the tensor.
//
// The KV cache is owned by the runtime (runtime/kv_cache.h) and handed to forward() as a view: for every
// layer a pool of fixed-size blocks, and the sequence's block table. One token of one layer is one row of
// kv_row_floats() floats:
//   GQA: [K (kv_heads · head_dim) | V (kv_heads · head_dim)]
//   MLA: [normalised latent c_kv (kv_lora_rank) | rotated k_pe (qk_rope_head_dim)]   (576 for R1)
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/base/thread_pool.h"
#include "fp4/io/model_config.h"
#include "fp4/ops/matmul.h"

namespace fp4::model {

// One sequence's KV rows. Row of token `pos` in layer `l`:
//   layer_base[l] + (block_table[pos / block_size] · block_size + pos % block_size) · row_floats
struct KvSequenceView {
  const std::vector<float*>* layer_base = nullptr;  // [layers] start of each layer's block pool
  const int32_t* block_table = nullptr;             // [num_blocks]
  int64_t num_blocks = 0;
  int64_t block_size = 0;  // tokens per block
  int64_t row_floats = 0;

  int64_t capacity() const { return num_blocks * block_size; }
  float* row(int64_t layer, int64_t pos) const {
    const int64_t block = block_table[pos / block_size];
    return (*layer_base)[static_cast<size_t>(layer)] + (block * block_size + pos % block_size) * row_floats;
  }
};

// How MLA attention is computed (DeepSeek only). kAuto: expanded for prefill chunks (T > 1, compute-
// friendly), absorbed over the latent cache for decode (T == 1, reads 576 values per cached token).
enum class MlaForm : uint8_t { kAuto, kExpanded, kAbsorbed };

// Called with every named intermediate when set: name ("layer.3.attn_out"), shape, f32 data.
using TensorDumpFn = std::function<void(std::string_view name, std::span<const int64_t> shape, const float* data)>;

// Expert choices of one MoE layer for the tokens of one forward call.
struct RoutingRecord {
  int64_t layer = 0;
  int64_t tokens = 0;
  int64_t top_k = 0;
  std::vector<int32_t> experts;  // [tokens, top_k], ascending expert id per token
  std::vector<float> weights;    // [tokens, top_k] routing weights in the same order (scaled)
};

// One sequence's share of a batched forward call: a prefill chunk (T > 1) or a decode row (T = 1).
struct BatchSequence {
  std::span<const int32_t> tokens;  // [T]
  int64_t pos0 = 0;                 // position of tokens[0]; the cache holds rows < pos0
  KvSequenceView kv;
  // Which logits this sequence wants: kNone for a prefill chunk that is not the prompt's last,
  // kLast for the next-token distribution, kAll for every position (scoring, perplexity).
  enum class Logits : uint8_t { kNone, kLast, kAll } logits = Logits::kLast;
};

// Rows of logits forward_batch writes: 0, 1 or T per sequence.
int64_t logit_rows(std::span<const BatchSequence> batch);

// Sees the input of every linear before it is applied: module name ("model.layers.3.mlp.experts.7.up_proj")
// and x [M, K] (for an expert, only the tokens routed to it). `quantize --calib` records activation amax
// through it. May be called from several threads at once.
using LinearInputObserver = std::function<void(const std::string& module, const float* x, int64_t M, int64_t K)>;

struct ForwardOptions {
  bool all_logits = false;  // logits for every position [T, vocab]; otherwise only the last [1, vocab]
  MlaForm mla_form = MlaForm::kAuto;
  // Every linear through the scalar reference matmul (f32 activations): see Compute in weights.h.
  bool exact_matmul = false;
  // NVFP4 linears on the fast path: f32 activations (the reference up to f32 summation order, what
  // parity with an f32 framework needs) or int8 per 16-element block (W4A8; see docs/kernels.md).
  cpu::ActivationPrecision nvfp4_activations = cpu::ActivationPrecision::kF32;
  const TensorDumpFn* dump = nullptr;  // needs a batch of one: forward_batch throws otherwise
  // Appended to, when set: one record per MoE layer over all the batch's rows, in batch order.
  std::vector<RoutingRecord>* routing = nullptr;
  const LinearInputObserver* observe_linear_inputs = nullptr;
};

class Model {
 public:
  virtual ~Model() = default;

  // Loads the Hugging Face folder `dir`: config.json, quantization description, weights (mmap'd, kept
  // in their stored encoding). Throws fp4::Error naming the field or tensor on any mismatch.
  static std::unique_ptr<Model> load(const std::string& dir, ThreadPool& pool);

  const io::ModelConfig& config() const { return config_; }
  int64_t vocab_size() const { return config_.vocab_size; }
  int64_t num_layers() const { return config_.num_hidden_layers; }
  int64_t kv_row_floats() const { return config_.kv_cache_elements_per_token_per_layer(); }
  // Bytes of weights as stored (what a decode step streams through, roughly).
  virtual uint64_t weight_bytes() const = 0;
  // One line: architecture, layers, and the count of linears per stored encoding.
  virtual std::string describe() const = 0;

  // Runs tokens [T] at positions pos0 .. pos0+T-1 of one sequence. The cache must already hold the
  // rows of positions < pos0 and have capacity ≥ pos0 + T; this call writes rows pos0 .. pos0+T-1.
  // logits: [T, vocab] when options.all_logits, else [1, vocab] for the last token.
  // Throws fp4::Error for a token id outside the vocabulary or a cache that is too small.
  // Same as forward_batch over one sequence.
  void forward(std::span<const int32_t> tokens, int64_t pos0, const KvSequenceView& kv, const ForwardOptions& options,
               float* logits);

  // Runs several sequences in one pass: every linear (and the MoE) sees all their tokens together as
  // one [sum T_i, hidden] matrix, so the weights stream once per step; attention and the cache writes
  // stay per sequence. Each sequence's rows equal what forward() gives it alone, up to f32 summation
  // order (tests bound the difference). options.all_logits is ignored: each BatchSequence says which
  // logits it wants. logits: the wanted rows, [rows, vocab], in batch order (see logit_rows()).
  virtual void forward_batch(std::span<const BatchSequence> batch, const ForwardOptions& options, float* logits) = 0;

  // Where the KV cache lives. The CPU models (false) read and write the runtime's host pools through
  // KvSequenceView::layer_base. A model that keeps the cache itself (true: a GPU model, in device memory)
  // owns the pools: the runtime's KvCache calls allocate_kv once with its block geometry, hands out block
  // tables as before (KvSequenceView::layer_base then points at an empty vector and is not read) and
  // forwards copy_rows to copy_kv_rows. One cache per model at a time: allocate_kv replaces the pools.
  virtual bool kv_on_device() const { return false; }
  // Pools for num_blocks blocks of block_size tokens in every layer. Throws fp4::Error when the model
  // keeps no cache (the CPU models) or the memory is not available.
  virtual void allocate_kv(int64_t num_blocks, int64_t block_size);
  // Copies the first `rows` token rows of block src into block dst in every layer (KvCache::copy_rows).
  virtual void copy_kv_rows(int32_t src, int32_t dst, int64_t rows);
  // Bytes free where the model keeps its cache (kv_on_device), what the engine sizes its default cache
  // from; 0 when unknown or when the cache is the runtime's (host memory, which the engine reads itself).
  virtual uint64_t kv_memory_available() const { return 0; }
  // GB/s of the memory the weights live in when that is not host memory, measured now, as the decode
  // roofline of `fp4serve bench`: a GPU model times a device-to-device copy of buffer_bytes, best of
  // `passes`, counting bytes read plus written (the copy ceiling DESIGN.md §6 names). 0: host memory,
  // which the runtime measures itself (runtime/bandwidth_probe.h).
  virtual double weight_memory_bandwidth(uint64_t /*buffer_bytes*/, int /*passes*/) const { return 0.0; }

 protected:
  Model(io::ModelConfig config, ThreadPool& pool) : config_(std::move(config)), pool_(pool) {}

  io::ModelConfig config_;
  ThreadPool& pool_;
};

}  // namespace fp4::model
