// Row converters between stored encodings and float32, for loaders and for kernels that widen a whole
// row before computing (e.g. a BF16 embedding row or an F16 bias). Each is exactly the scalar codec of
// formats.h applied element by element, written as plain loops the compiler vectorizes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fp4 {

// dst[i] = bf16_to_f32(src[i]) for i < n.
void bf16_to_f32_row(const uint16_t* src, float* dst, size_t n);
// dst[i] = f32_to_bf16(src[i]) for i < n (RNE).
void f32_to_bf16_row(const float* src, uint16_t* dst, size_t n);
// dst[i] = f16_to_f32(src[i]) for i < n.
void f16_to_f32_row(const uint16_t* src, float* dst, size_t n);
// dst[i] = f32_to_f16(src[i]) for i < n (RNE).
void f32_to_f16_row(const float* src, uint16_t* dst, size_t n);
// dst[i] = e4m3_to_f32(src[i]) * scale for i < n. The product is the single float rounding of an exact
// E4M3 value times `scale`, the same as decoding and multiplying separately.
void e4m3_to_f32_row(const uint8_t* src, float scale, float* dst, size_t n);
// Unpacks n E2M1 elements from packed[(n + 1) / 2] (element 2j in the low nibble, nvfp4_format.md §2.2)
// and multiplies each by `scale`: dst[i] = e2m1_to_f32(code i) * scale.
void e2m1_unpack_row(const uint8_t* packed, float scale, float* dst, size_t n);
// Encodes n floats with f32_to_e2m1 into packed[(n + 1) / 2]; for odd n the last high nibble is 0.
void f32_to_e2m1_pack_row(const float* src, uint8_t* packed, size_t n);

}  // namespace fp4
