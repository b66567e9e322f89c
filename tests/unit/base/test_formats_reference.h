// An independent model of the binary floating-point formats, used only by the format tests.
//
// It shares no code with src/fp4/base/formats.h: values come from std::ldexp on the exponent and mantissa
// fields in double precision (every value of every format here is exact in double), and encoding is a
// search for the nearest representable value in a sorted list of all finite codes, with ties broken
// toward the code whose last bit is 0. Overflow follows the IEEE definition: a magnitude rounds past the
// largest finite value when it exceeds max + ulp(max)/2, or equals it and max's code is odd (the next
// code up would then be the even one). What happens then depends on the encoder (saturate, inf or NaN).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

namespace fp4::test {

enum class Specials {
  kIeee,        // all-ones exponent: mantissa 0 is inf, anything else NaN (f16, bf16, e5m2)
  kFiniteNanAllOnes,  // no inf; all-ones exponent and mantissa is NaN (e4m3fn)
  kNone,        // every code is a finite number (e2m1)
};

struct BinaryFormat {
  int exp_bits;
  int man_bits;
  int bias;
  Specials specials;

  int total_bits() const { return 1 + exp_bits + man_bits; }
  uint32_t sign_bit() const { return 1u << (exp_bits + man_bits); }
  uint32_t code_count() const { return 1u << total_bits(); }
};

inline constexpr BinaryFormat kRefBF16{8, 7, 127, Specials::kIeee};
inline constexpr BinaryFormat kRefF16{5, 10, 15, Specials::kIeee};
inline constexpr BinaryFormat kRefE4M3{4, 3, 7, Specials::kFiniteNanAllOnes};
inline constexpr BinaryFormat kRefE5M2{5, 2, 15, Specials::kIeee};
inline constexpr BinaryFormat kRefE2M1{2, 1, 1, Specials::kNone};

struct RefValue {
  bool is_nan = false;
  double value = 0;  // ±inf for infinities; signed zero for zeros
};

inline RefValue ref_decode(const BinaryFormat& f, uint32_t code) {
  const bool negative = (code & f.sign_bit()) != 0;
  const uint32_t exponent = (code >> f.man_bits) & ((1u << f.exp_bits) - 1u);
  const uint32_t mantissa = code & ((1u << f.man_bits) - 1u);
  const uint32_t all_exp = (1u << f.exp_bits) - 1u;
  const uint32_t all_man = (1u << f.man_bits) - 1u;
  RefValue r;
  if (f.specials == Specials::kIeee && exponent == all_exp) {
    if (mantissa != 0) {
      r.is_nan = true;
      return r;
    }
    r.value = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return r;
  }
  if (f.specials == Specials::kFiniteNanAllOnes && exponent == all_exp && mantissa == all_man) {
    r.is_nan = true;
    return r;
  }
  double magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(mantissa), 1 - f.bias - f.man_bits);
  } else {
    magnitude = std::ldexp(static_cast<double>((1u << f.man_bits) + mantissa),
                           static_cast<int>(exponent) - f.bias - f.man_bits);
  }
  r.value = negative ? -magnitude : magnitude;
  return r;
}

// What an encoder does with a magnitude that rounds past the largest finite value.
enum class Overflow { kSaturate, kInf, kNan };

// The nearest-value encoder for finite inputs. NaN and inf inputs are the caller's business (each
// encoder documents its own choice and the tests spell those out case by case).
class RefEncoder {
 public:
  explicit RefEncoder(const BinaryFormat& f) : format_(f) {
    for (uint32_t code = 0; code < f.sign_bit(); ++code) {
      const RefValue v = ref_decode(f, code);
      if (!v.is_nan && std::isfinite(v.value)) finite_.emplace_back(v.value, code);
    }
    std::sort(finite_.begin(), finite_.end());
    const auto& [max_value, max_code] = finite_.back();
    const double max_ulp = max_value - finite_[finite_.size() - 2].first;
    overflow_threshold_ = max_value + max_ulp / 2;
    tie_overflows_ = (max_code & 1u) != 0;
  }

  // Code for a finite float, or -1 when the value overflows (then `overflow` decides).
  int64_t encode_finite_or_overflow(float x) const {
    const double a = std::fabs(static_cast<double>(x));
    const uint32_t sign = std::signbit(x) ? format_.sign_bit() : 0u;
    if (a > overflow_threshold_ || (a == overflow_threshold_ && tie_overflows_)) return -1;
    auto hi = std::upper_bound(finite_.begin(), finite_.end(), std::make_pair(a, UINT32_MAX));
    if (hi == finite_.end()) return sign | finite_.back().second;  // (max, threshold]: rounds down to max
    if (hi == finite_.begin()) return sign | hi->second;
    auto lo = std::prev(hi);
    const double down = a - lo->first;
    const double up = hi->first - a;
    uint32_t code;
    if (down < up) {
      code = lo->second;
    } else if (up < down) {
      code = hi->second;
    } else {
      code = (lo->second & 1u) == 0 ? lo->second : hi->second;
    }
    return sign | code;
  }

  uint32_t encode(float x, Overflow overflow, uint32_t inf_code, uint32_t nan_code) const {
    const int64_t code = encode_finite_or_overflow(x);
    if (code >= 0) return static_cast<uint32_t>(code);
    const uint32_t sign = std::signbit(x) ? format_.sign_bit() : 0u;
    switch (overflow) {
      case Overflow::kSaturate: return sign | finite_.back().second;
      case Overflow::kInf: return sign | inf_code;
      case Overflow::kNan: return nan_code | sign;
    }
    return 0;
  }

  uint32_t max_finite_code() const { return finite_.back().second; }
  // Every non-negative finite value, ascending.
  const std::vector<std::pair<double, uint32_t>>& finite_values() const { return finite_; }

 private:
  BinaryFormat format_;
  std::vector<std::pair<double, uint32_t>> finite_;
  double overflow_threshold_ = 0;
  bool tie_overflows_ = false;
};

inline float float_from_bits(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

inline uint32_t bits_of_float(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

}  // namespace fp4::test
