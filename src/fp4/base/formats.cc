// Compile-time decode tables and load-time validation for the formats in formats.h.
#include "fp4/base/formats.h"

#include <array>

#include "fp4/base/error.h"

namespace fp4 {
namespace {

template <size_t N, typename Decode>
constexpr std::array<float, N> build_table(Decode decode) {
  std::array<float, N> table{};
  for (size_t i = 0; i < N; ++i) table[i] = decode(static_cast<uint8_t>(i));
  return table;
}

constexpr auto kE4M3Table = build_table<256>(e4m3_to_f32);
constexpr auto kE5M2Table = build_table<256>(e5m2_to_f32);
constexpr auto kE2M1Table = build_table<16>(e2m1_to_f32);

constexpr std::array<float, 512> build_pair_table() {
  std::array<float, 512> table{};
  for (size_t byte = 0; byte < 256; ++byte) {
    table[2 * byte] = e2m1_to_f32(e2m1_even_code(static_cast<uint8_t>(byte)));
    table[2 * byte + 1] = e2m1_to_f32(e2m1_odd_code(static_cast<uint8_t>(byte)));
  }
  return table;
}
constexpr auto kE2M1PairTable = build_pair_table();

constexpr std::array<int8_t, 16> build_times2_table() {
  std::array<int8_t, 16> table{};
  for (size_t code = 0; code < 16; ++code) {
    const float doubled = 2.0f * e2m1_to_f32(static_cast<uint8_t>(code));
    table[code] = static_cast<int8_t>(doubled);  // exact: every doubled E2M1 value is an integer in [-12, 12]
  }
  return table;
}
constexpr auto kE2M1Times2Table = build_times2_table();

// The tables must say what the spec's table says (nvfp4_format.md §2.1) and hit the documented extremes.
static_assert(kE2M1Table[1] == 0.5f && kE2M1Table[5] == 3.0f && kE2M1Table[7] == 6.0f && kE2M1Table[15] == -6.0f);
static_assert(kE4M3Table[0x7E] == kE4M3Max && kE4M3Table[0x01] == kE4M3MinSubnormal);
static_assert(kE5M2Table[0x7B] == kE5M2Max && kE5M2Table[0x01] == kE5M2MinSubnormal);
static_assert(kE2M1Times2Table[7] == 12 && kE2M1Times2Table[9] == -1);

}  // namespace

const float* e4m3_decode_table() { return kE4M3Table.data(); }
const float* e5m2_decode_table() { return kE5M2Table.data(); }
const float* e2m1_decode_table() { return kE2M1Table.data(); }
const float* e2m1_pair_decode_table() { return kE2M1PairTable.data(); }
const int8_t* e2m1_times2_i8_table() { return kE2M1Times2Table.data(); }

void check_ue4m3_scales(const uint8_t* scales, size_t count, std::string_view what) {
  for (size_t i = 0; i < count; ++i) {
    const uint8_t bits = scales[i];
    if (bits & 0x80u) {
      fail("{}: block scale {} is 0x{:02X}, which has the sign bit set; UE4M3 scales must be non-negative", what, i,
           bits);
    }
    if (bits == 0x7Fu) fail("{}: block scale {} is 0x7F, the E4M3 NaN code; expected a finite scale", what, i);
  }
}

}  // namespace fp4
