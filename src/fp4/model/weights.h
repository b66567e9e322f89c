// Binding checkpoint tensors to the model: linears as WeightViews in their stored encoding (BF16, FP8
// block or NVFP4, mixed per tensor as the quantization description says), small vectors (norm weights,
// biases, router correction bias) converted once to f32, and the token embedding table.
//
// Every accessor checks name, dtype and shape and throws one fp4::Error line naming the tensor, so a
// model's constructor that binds everything it needs is its whole load-time validation.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/base/dtype.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/model_config.h"
#include "fp4/io/quant_config.h"
#include "fp4/ops/matmul.h"
#include "fp4/ops/rope.h"
#include "fp4/ops/weight.h"

namespace fp4::model {

// How the linears of one forward pass are computed.
struct Compute {
  ThreadPool& pool;
  // false: the backend's fast kernels, f32 arithmetic (NVFP4 activations as `fast` says). true: the
  // scalar reference for every linear (f32 activations, exact weight decode, f64 accumulation); slow,
  // meant for tests and debugging.
  bool exact = false;
  // Options of the fast kernels: NVFP4 activations in f32 (default; within f32 summation error of the
  // reference) or int8 per 16-element block (W4A8, about 2^-8 relative per block).
  cpu::MatmulOptions fast = {};
  // When set, Linear::apply shows it every linear's input first (calibration; see model.h).
  const std::function<void(const std::string&, const float*, int64_t, int64_t)>* observe = nullptr;

  // y[M, N] = x[M, K] · Wᵀ
  void matmul(const WeightView& w, const float* x, int64_t M, float* y) const;
};

// A linear layer y = x·Wᵀ (+ bias).
struct Linear {
  std::string name;        // module name, e.g. "model.layers.3.mlp.experts.7.up_proj"
  WeightView w;            // [out, in] in its stored encoding
  std::vector<float> bias; // [out] or empty

  int64_t out_features() const { return w.rows; }
  int64_t in_features() const { return w.cols; }
  // y[M, out] = x[M, in] · Wᵀ + bias.
  void apply(const Compute& cx, const float* x, int64_t M, float* y) const;
};

// SiLU-gated MLP: down(silu(gate(x)) ⊙ up(x)). Used for dense layers, experts and shared experts.
struct GatedMlp {
  Linear gate, up, down;
  int64_t intermediate() const { return gate.out_features(); }
  // x: [M, hidden] → y: [M, hidden]; scratch grows to 2·M·intermediate floats.
  void apply(const Compute& cx, const float* x, int64_t M, float* y, std::vector<float>& scratch) const;
};

// The token embedding table, read row by row in its stored float dtype.
struct Embedding {
  DType dtype = DType::kBF16;
  const uint8_t* data = nullptr;
  int64_t rows = 0;  // vocab
  int64_t cols = 0;  // hidden
  // out: [cols] f32
  void lookup(int64_t token, float* out) const;
  // The same table as a linear weight [vocab, hidden], for tied output heads.
  WeightView as_linear() const;
};

class WeightBinder {
 public:
  explicit WeightBinder(const std::string& dir);

  const io::HfCheckpoint& checkpoint() const { return ckpt_; }
  const io::QuantConfig& quant() const { return quant_; }
  bool has(std::string_view tensor) const { return ckpt_.contains(tensor); }

  // Binds `<module>.weight` (+ scales) as [rows, cols] and, when `bias`, `<module>.bias` [rows].
  Linear linear(const std::string& module, int64_t rows, int64_t cols, bool bias = false);
  GatedMlp mlp(const std::string& prefix, int64_t hidden, int64_t intermediate);
  // A float tensor of shape [n] (BF16, F16 or F32) converted to f32.
  std::vector<float> vector(const std::string& tensor, int64_t n);
  Embedding embedding(const std::string& tensor, int64_t rows, int64_t cols);

  // Fails naming the first checkpoint tensor that nothing bound: a bias, norm or projection the config
  // does not describe would otherwise be ignored silently. Tolerated: layers ≥ num_hidden_layers (MTP),
  // FP8 KV-cache scales (k_scale / v_scale) and rotary inv_freq buffers, which the engine does not need.
  void check_all_bound(int64_t num_hidden_layers) const;

  // Count of bound linears per stored encoding, and their bytes.
  std::string encoding_summary() const;
  uint64_t bound_bytes() const { return bound_bytes_; }

 private:
  io::HfCheckpoint ckpt_;
  io::QuantConfig quant_;
  std::set<std::string, std::less<>> bound_;  // tensor names and linear module names ("<module>.*")
  int64_t count_[5] = {0, 0, 0, 0, 0};  // by WeightEncoding
  uint64_t bound_bytes_ = 0;
};

// Every element of w decoded exactly to f32, row-major [rows, cols] (for small derived copies such as
// MLA's absorbed kv_b halves; never for whole models).
std::vector<float> decode_weight(const WeightView& w);

// RoPE table settings for a rotary width from the model config (rope_theta, rope_scaling).
// Throws fp4::Error for a scaling type the engine does not implement.
RopeConfig rope_config(const io::ModelConfig& config, int64_t rotary_dim);

// x[i] += y[i] for i < n.
void add_inplace(float* x, const float* y, int64_t n);

}  // namespace fp4::model
