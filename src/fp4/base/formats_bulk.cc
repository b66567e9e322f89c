#include "fp4/base/formats_bulk.h"

#include "fp4/base/formats.h"

namespace fp4 {

void bf16_to_f32_row(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void f32_to_bf16_row(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

void f16_to_f32_row(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

void f32_to_f16_row(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = f32_to_f16(src[i]);
}

void e4m3_to_f32_row(const uint8_t* src, float scale, float* dst, size_t n) {
  const float* table = e4m3_decode_table();
  for (size_t i = 0; i < n; ++i) dst[i] = table[src[i]] * scale;
}

void e2m1_unpack_row(const uint8_t* packed, float scale, float* dst, size_t n) {
  const float* pairs = e2m1_pair_decode_table();  // [256][2]
  const size_t full_bytes = n / 2;
  for (size_t j = 0; j < full_bytes; ++j) {
    const float* pair = pairs + 2 * packed[j];
    dst[2 * j] = pair[0] * scale;
    dst[2 * j + 1] = pair[1] * scale;
  }
  if (n % 2) dst[n - 1] = e2m1_to_f32(e2m1_even_code(packed[full_bytes])) * scale;
}

void f32_to_e2m1_pack_row(const float* src, uint8_t* packed, size_t n) {
  const size_t full_bytes = n / 2;
  for (size_t j = 0; j < full_bytes; ++j) {
    packed[j] = pack_e2m1_pair(f32_to_e2m1(src[2 * j]), f32_to_e2m1(src[2 * j + 1]));
  }
  if (n % 2) packed[full_bytes] = pack_e2m1_pair(f32_to_e2m1(src[n - 1]), 0);
}

}  // namespace fp4
