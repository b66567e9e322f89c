// RoPE rotation scalar reference, written the way HF's code reads: build the rotated-partner vector
// (rotate_half of the possibly permuted input), then out = x·cos + partner·sin with cos/sin repeated over
// both halves (HF's cat(freqs, freqs)).
#include <cstdint>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/ops/rope.h"

namespace fp4::cpu::reference {

void apply_rope(float* x, int64_t tokens, int64_t heads, int64_t token_stride, int64_t head_stride,
                int64_t rot_offset, int64_t rotary_dim, const float* cos, const float* sin, RopeLayout layout) {
  FP4_CHECK(rotary_dim > 0 && rotary_dim % 2 == 0, "rope: rotary_dim must be even and > 0, got {}", rotary_dim);
  const int64_t half = rotary_dim / 2;
  std::vector<float> in(static_cast<size_t>(rotary_dim));       // input in "half" order
  std::vector<float> partner(static_cast<size_t>(rotary_dim));  // rotate_half(in)
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t h = 0; h < heads; ++h) {
      float* head = x + t * token_stride + h * head_stride + rot_offset;
      for (int64_t i = 0; i < half; ++i) {
        if (layout == RopeLayout::kHalf) {
          in[i] = head[i];
          in[half + i] = head[half + i];
        } else {  // HF: view(d/2, 2).transpose → [x0, x2, …, x1, x3, …]
          in[i] = head[2 * i];
          in[half + i] = head[2 * i + 1];
        }
      }
      for (int64_t i = 0; i < half; ++i) {
        partner[i] = -in[half + i];
        partner[half + i] = in[i];
      }
      for (int64_t j = 0; j < rotary_dim; ++j) {
        const float c = cos[t * half + j % half];
        const float s = sin[t * half + j % half];
        const float value = in[j] * c + partner[j] * s;
        if (layout == RopeLayout::kInterleavedPairs) {
          head[j < half ? 2 * j : 2 * (j - half) + 1] = value;
        } else {
          head[j] = value;
        }
      }
    }
  }
}

}  // namespace fp4::cpu::reference
