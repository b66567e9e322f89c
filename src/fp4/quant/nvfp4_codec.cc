#include "fp4/quant/nvfp4_codec.h"

#include <algorithm>
#include <cmath>

#include "fp4/base/formats.h"

namespace fp4::quant {

float nvfp4_global_scale(float amax, GlobalScaleArith arith) {
  if (amax == 0.0f) return 1.0f;
  // E2M1_MAX · E4M3_MAX is formed by ModelOpt as a Python float and is exactly 2688.
  constexpr float kDivisor = kE2M1Max * kE4M3Max;
  if (arith == GlobalScaleArith::kCudaReciprocal) {
    constexpr float kReciprocal = 1.0f / kDivisor;  // torch's CUDA kernel: opmath(1) / divisor, in f32
    return amax * kReciprocal;
  }
  return amax / kDivisor;
}

uint8_t nvfp4_block_scale_code(float block_amax, float scale_2, BlockScaleCast cast) {
  const float denominator = kE2M1Max * scale_2;  // rounded to f32 before the division, as in ModelOpt
  float sb = block_amax / denominator;
  if (sb == 0.0f) sb = 1.0f;
  if (cast == BlockScaleCast::kClamped) sb = std::clamp(sb, kE4M3MinSubnormal, kE4M3Max);
  return f32_to_e4m3(sb);
}

float abs_max(std::span<const float> values) {
  float amax = 0.0f;
  for (float v : values) {
    const float a = std::fabs(v);
    if (a > amax || std::isnan(a)) amax = a;
    if (std::isnan(amax)) return amax;
  }
  return amax;
}

void nvfp4_encode_rows(const float* weights, int64_t rows, int64_t cols, float scale_2, BlockScaleCast cast,
                       uint8_t* packed, uint8_t* scales) {
  const int64_t groups = cols / kNvfp4Group;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = weights + r * cols;
    uint8_t* row_packed = packed + r * (cols / 2);
    uint8_t* row_scales = scales + r * groups;
    for (int64_t g = 0; g < groups; ++g) {
      const float* block = row + g * kNvfp4Group;  // [16]
      const float block_amax = abs_max({block, static_cast<size_t>(kNvfp4Group)});
      const uint8_t scale_code = nvfp4_block_scale_code(block_amax, scale_2, cast);
      row_scales[g] = scale_code;
      const float denominator = e4m3_to_f32(scale_code) * scale_2;
      uint8_t* out = row_packed + g * (kNvfp4Group / 2);
      for (int64_t j = 0; j < kNvfp4Group; j += 2) {
        uint8_t even = 0;
        uint8_t odd = 0;
        if (denominator != 0.0f) {
          even = f32_to_e2m1(block[j] / denominator);
          odd = f32_to_e2m1(block[j + 1] / denominator);
        }
        out[j / 2] = pack_e2m1_pair(even, odd);
      }
    }
  }
}

void nvfp4_decode_rows(const uint8_t* packed, const uint8_t* scales, float scale_2, int64_t rows, int64_t cols,
                       float* out) {
  const int64_t groups = cols / kNvfp4Group;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const float block_scale = e4m3_to_f32(scales[r * groups + g]) * scale_2;
      const uint8_t* bytes = packed + r * (cols / 2) + g * (kNvfp4Group / 2);
      float* dst = out + r * cols + g * kNvfp4Group;
      for (int64_t j = 0; j < kNvfp4Group / 2; ++j) {
        dst[2 * j] = e2m1_to_f32(static_cast<uint8_t>(bytes[j] & 0xF)) * block_scale;
        dst[2 * j + 1] = e2m1_to_f32(static_cast<uint8_t>(bytes[j] >> 4)) * block_scale;
      }
    }
  }
}

void fp8_block_encode_band(const float* weights, int64_t rows, int64_t cols, uint8_t* codes, float* scale_inv) {
  const int64_t col_blocks = (cols + kFp8BlockEdge - 1) / kFp8BlockEdge;
  for (int64_t b = 0; b < col_blocks; ++b) {
    const int64_t c0 = b * kFp8BlockEdge;
    const int64_t c1 = std::min(cols, c0 + kFp8BlockEdge);
    float amax = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      amax = std::max(amax, abs_max({weights + r * cols + c0, static_cast<size_t>(c1 - c0)}));
    }
    const float scale = amax == 0.0f ? 1.0f : amax / kE4M3Max;
    scale_inv[b] = scale;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = c0; c < c1; ++c) codes[r * cols + c] = f32_to_e4m3(weights[r * cols + c] / scale);
    }
  }
}

void fp8_block_decode_band(const uint8_t* codes, const float* scale_inv, int64_t rows, int64_t cols, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = e4m3_to_f32(codes[r * cols + c]) * scale_inv[c / kFp8BlockEdge];
  }
}

}  // namespace fp4::quant
