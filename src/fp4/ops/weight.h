// A linear layer's weight as the checkpoint stores it, viewed without copying. Kernels compute
// y = x · Wᵀ straight from these bytes (DESIGN.md §2: weights stay in their stored encoding).
// W is [rows = out_features N, cols = in_features K], row-major, as in Hugging Face's nn.Linear.
#pragma once

#include <cstdint>
#include <string_view>

namespace fp4 {

enum class WeightEncoding : uint8_t {
  kF32,       // data: float[N*K]
  kBF16,      // data: uint16_t bf16 bits[N*K]
  kF16,       // data: uint16_t f16 bits[N*K]
  kFP8Block,  // DeepSeek: data e4m3 bytes[N*K]; block_scale_inv float[ceil(N/bn) * ceil(K/bk)] (a multiplier)
  kNVFP4,     // ModelOpt: data bytes[N*K/2], even k in the low nibble; block_scale UE4M3 bytes[N*K/16];
              // W[n,k] = e2m1(code) * fp32(block_scale[n, k/16]) * global_scale
};

constexpr std::string_view encoding_name(WeightEncoding e) {
  switch (e) {
    case WeightEncoding::kF32: return "f32";
    case WeightEncoding::kBF16: return "bf16";
    case WeightEncoding::kF16: return "f16";
    case WeightEncoding::kFP8Block: return "fp8-block";
    case WeightEncoding::kNVFP4: return "nvfp4";
  }
  return "?";
}

struct WeightView {
  WeightEncoding encoding = WeightEncoding::kF32;
  int64_t rows = 0;  // N: output features
  int64_t cols = 0;  // K: input features
  const void* data = nullptr;

  // kFP8Block: float multipliers, row-major [ceil(rows/block_rows), ceil(cols/block_cols)].
  const float* block_scale_inv = nullptr;
  int32_t block_rows = 128;
  int32_t block_cols = 128;

  // kNVFP4: UE4M3 codes row-major [rows, cols/16]; the per-tensor weight_scale_2; the static
  // activation scale input_scale (0 when the checkpoint has none, e.g. W4A16).
  const uint8_t* block_scale = nullptr;
  float global_scale = 1.0f;
  float input_scale = 0.0f;
};

}  // namespace fp4
