#include "fp4/model/weights.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <charconv>
#include <cstring>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/ops/activation.h"
#include "fp4/ops/matmul.h"

namespace fp4::model {
namespace {

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);  // safetensors offsets need not be aligned
  return v;
}

float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint64_t weight_view_bytes(const WeightView& w) {
  const uint64_t n = static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.cols);
  switch (w.encoding) {
    case WeightEncoding::kF32: return 4 * n;
    case WeightEncoding::kBF16:
    case WeightEncoding::kF16: return 2 * n;
    case WeightEncoding::kFP8Block: {
      const uint64_t blocks = static_cast<uint64_t>((w.rows + w.block_rows - 1) / w.block_rows) *
                              static_cast<uint64_t>((w.cols + w.block_cols - 1) / w.block_cols);
      return n + 4 * blocks;
    }
    case WeightEncoding::kNVFP4: return n / 2 + n / 16 + 8;
  }
  return 0;
}

}  // namespace

void Compute::matmul(const WeightView& w, const float* x, int64_t M, float* y) const {
  if (exact) {
    cpu::matmul_reference(w, x, M, y);
  } else {
    cpu::matmul(pool, w, x, M, y, fast);
  }
}

void Linear::apply(const Compute& cx, const float* x, int64_t M, float* y) const {
  if (cx.observe != nullptr && *cx.observe) (*cx.observe)(name, x, M, w.cols);
  cx.matmul(w, x, M, y);
  if (!bias.empty()) {
    const int64_t n = w.rows;
    for (int64_t m = 0; m < M; ++m) add_inplace(y + m * n, bias.data(), n);
  }
}

void GatedMlp::apply(const Compute& cx, const float* x, int64_t M, float* y, std::vector<float>& scratch) const {
  const int64_t inter = intermediate();
  scratch.resize(static_cast<size_t>(2 * M * inter));
  float* g = scratch.data();        // [M, inter]
  float* u = g + M * inter;         // [M, inter]
  gate.apply(cx, x, M, g);
  up.apply(cx, x, M, u);
  // g ← silu(g) ⊙ u, row by row: each row's values then take the same (vector or scalar-tail) code path
  // whatever M is, so a token's result does not depend on what else is in the batch.
  cpu::silu_mul_rows(g, inter, u, inter, M, inter, g, inter);
  down.apply(cx, g, M, y);          // [M, hidden]
}

void Embedding::lookup(int64_t token, float* out) const {
  const size_t elem = dtype_size(dtype);
  const uint8_t* row = data + static_cast<size_t>(token) * static_cast<size_t>(cols) * elem;
  for (int64_t j = 0; j < cols; ++j) {
    const uint8_t* p = row + static_cast<size_t>(j) * elem;
    switch (dtype) {
      case DType::kBF16: out[j] = bf16_to_f32(load_u16(p)); break;
      case DType::kF16: out[j] = f16_to_f32(load_u16(p)); break;
      default: out[j] = load_f32(p); break;
    }
  }
}

WeightView Embedding::as_linear() const {
  WeightView w;
  w.encoding = dtype == DType::kBF16  ? WeightEncoding::kBF16
               : dtype == DType::kF16 ? WeightEncoding::kF16
                                      : WeightEncoding::kF32;
  w.rows = rows;
  w.cols = cols;
  w.data = data;
  return w;
}

WeightBinder::WeightBinder(const std::string& dir)
    : ckpt_(io::HfCheckpoint::open(dir)), quant_(io::load_quant_config(dir)) {}

Linear WeightBinder::linear(const std::string& module, int64_t rows, int64_t cols, bool bias) {
  Linear l;
  l.name = module;
  l.w = io::bind_linear(ckpt_, quant_, module, rows, cols);
  bound_.insert(module + ".*");
  if (bias) l.bias = vector(module + ".bias", rows);
  count_[static_cast<int>(l.w.encoding)] += 1;
  bound_bytes_ += weight_view_bytes(l.w);
  return l;
}

GatedMlp WeightBinder::mlp(const std::string& prefix, int64_t hidden, int64_t intermediate) {
  GatedMlp m;
  m.gate = linear(prefix + ".gate_proj", intermediate, hidden);
  m.up = linear(prefix + ".up_proj", intermediate, hidden);
  m.down = linear(prefix + ".down_proj", hidden, intermediate);
  return m;
}

std::vector<float> WeightBinder::vector(const std::string& tensor, int64_t n) {
  const io::TensorView t = ckpt_.view(tensor);
  bound_.insert(tensor);
  FP4_CHECK(t.rank() == 1 && t.dim(0) == n, "{}: tensor '{}' has shape [{}], expected [{}]", *t.file, tensor,
            fmt::join(t.shape(), ", "), n);
  FP4_CHECK(t.dtype() == DType::kBF16 || t.dtype() == DType::kF16 || t.dtype() == DType::kF32,
            "{}: tensor '{}' has dtype {}, expected BF16, F16 or F32", *t.file, tensor, dtype_name(t.dtype()));
  std::vector<float> out(static_cast<size_t>(n));
  Embedding as_row{t.dtype(), t.data, 1, n};
  as_row.lookup(0, out.data());
  for (float v : out) {
    FP4_CHECK(std::isfinite(v), "{}: tensor '{}' holds a non-finite value", *t.file, tensor);
  }
  return out;
}

Embedding WeightBinder::embedding(const std::string& tensor, int64_t rows, int64_t cols) {
  const io::TensorView t = ckpt_.view(tensor);
  bound_.insert(tensor);
  FP4_CHECK(t.rank() == 2 && t.dim(0) == rows && t.dim(1) == cols, "{}: tensor '{}' has shape [{}], expected [{}, {}]",
            *t.file, tensor, fmt::join(t.shape(), ", "), rows, cols);
  FP4_CHECK(t.dtype() == DType::kBF16 || t.dtype() == DType::kF16 || t.dtype() == DType::kF32,
            "{}: tensor '{}' has dtype {}, expected BF16, F16 or F32 (embeddings are never quantized)", *t.file,
            tensor, dtype_name(t.dtype()));
  return Embedding{t.dtype(), t.data, rows, cols};
}

void WeightBinder::check_all_bound(int64_t num_hidden_layers) const {
  // The tensors a bound linear owns: its weight and quantization scales.
  // (A bias counts only when the layer bound it: WeightBinder::vector records it by name.)
  static constexpr std::string_view kLinearParts[] = {"weight", "weight_scale_inv", "weight_scale",
                                                      "weight_scale_2", "input_scale"};
  for (const std::string& name : ckpt_.names()) {
    if (bound_.contains(name)) continue;
    const size_t dot = name.rfind('.');
    const std::string_view module = std::string_view(name).substr(0, dot == std::string::npos ? 0 : dot);
    const std::string_view part = std::string_view(name).substr(dot == std::string::npos ? 0 : dot + 1);
    bool owned = false;
    for (std::string_view p : kLinearParts) owned = owned || (part == p && bound_.contains(std::string(module) + ".*"));
    if (owned || part == "k_scale" || part == "v_scale" || part == "inv_freq") continue;
    constexpr std::string_view kLayers = "model.layers.";
    int64_t layer = -1;
    if (name.starts_with(kLayers)) {
      std::from_chars(name.data() + kLayers.size(), name.data() + name.size(), layer);
      if (layer >= num_hidden_layers) continue;  // multi-token-prediction layers stored after the main ones
    }
    fail("checkpoint {}: tensor '{}' is not used by this {}-layer model: the config does not describe it "
         "(an unsupported bias or feature, or a config that disagrees with the weights)",
         ckpt_.dir(), name, num_hidden_layers);
  }
}

std::string WeightBinder::encoding_summary() const {
  std::string out;
  for (int e = 0; e < 5; ++e) {
    if (count_[e] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", count_[e], encoding_name(static_cast<WeightEncoding>(e)));
  }
  return out + " linears";
}

std::vector<float> decode_weight(const WeightView& w) {
  cpu::check_weight(w, "decode_weight");
  std::vector<float> out(static_cast<size_t>(w.rows * w.cols));
  const auto* bytes = static_cast<const uint8_t*>(w.data);
  for (int64_t r = 0; r < w.rows; ++r) {
    float* dst = out.data() + r * w.cols;
    for (int64_t c = 0; c < w.cols; ++c) {
      const int64_t i = r * w.cols + c;
      switch (w.encoding) {
        case WeightEncoding::kF32: dst[c] = load_f32(bytes + 4 * i); break;
        case WeightEncoding::kBF16: dst[c] = bf16_to_f32(load_u16(bytes + 2 * i)); break;
        case WeightEncoding::kF16: dst[c] = f16_to_f32(load_u16(bytes + 2 * i)); break;
        case WeightEncoding::kFP8Block: {
          const int64_t scale_cols = (w.cols + w.block_cols - 1) / w.block_cols;
          const float s = w.block_scale_inv[(r / w.block_rows) * scale_cols + c / w.block_cols];
          dst[c] = e4m3_to_f32(bytes[i]) * s;
          break;
        }
        case WeightEncoding::kNVFP4: {
          const uint8_t packed = bytes[i / 2];
          const uint8_t code = (c % 2 == 0) ? e2m1_even_code(packed) : e2m1_odd_code(packed);
          // (e2m1 · block scale) is exact in f32; one rounding for the global scale, as ModelOpt dequantizes.
          dst[c] = e2m1_to_f32(code) * ue4m3_to_f32(w.block_scale[i / 16]) * w.global_scale;
          break;
        }
      }
    }
  }
  return out;
}

RopeConfig rope_config(const io::ModelConfig& config, int64_t rotary_dim) {
  RopeConfig r;
  r.rotary_dim = rotary_dim;
  r.theta = config.rope_theta;
  r.max_position_embeddings = config.max_position_embeddings;
  const io::RopeScaling& s = config.rope_scaling;
  switch (s.type) {
    case io::RopeScaling::Type::kNone: r.scaling = RopeScalingType::kNone; break;
    case io::RopeScaling::Type::kLinear:
      r.scaling = RopeScalingType::kLinear;
      r.linear_factor = s.factor;
      break;
    case io::RopeScaling::Type::kYarn:
      r.scaling = RopeScalingType::kYarn;
      r.yarn.factor = s.factor;
      r.yarn.original_max_position_embeddings = s.original_max_position_embeddings;
      r.yarn.beta_fast = s.beta_fast;
      r.yarn.beta_slow = s.beta_slow;
      r.yarn.mscale = s.mscale;
      r.yarn.mscale_all_dim = s.mscale_all_dim;
      r.yarn.attention_factor = s.attention_factor;
      break;
    case io::RopeScaling::Type::kLlama3:
      r.scaling = RopeScalingType::kLlama3;
      r.llama3.factor = s.factor;
      r.llama3.low_freq_factor = s.low_freq_factor;
      r.llama3.high_freq_factor = s.high_freq_factor;
      r.llama3.original_max_position_embeddings = s.original_max_position_embeddings;
      break;
    case io::RopeScaling::Type::kDynamic:
      fail("{}: rope_scaling type 'dynamic' is not supported; supported: default, linear, yarn, llama3", config.source);
  }
  return r;
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace fp4::model
