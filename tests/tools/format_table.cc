// format_table: exposes the codecs of fp4/base/formats.h to the Python reference test
// (tests/python/test_formats_reference.py), which compares them with ml_dtypes and numpy.
//
//   format_table encode FORMAT --range START COUNT   encode the float32 bit patterns START .. START+COUNT-1
//   format_table encode FORMAT                       encode little-endian uint32 bit patterns read from stdin
//   format_table decode FORMAT                       the float32 value of every code point, in code order
//
// FORMAT is one of bf16, f16, e4m3, e4m3_nonsaturating, e5m2, e5m2_satfinite, e2m1, ue4m3. Output goes to
// stdout as raw little-endian bytes: one byte per code for the 8-bit formats and for e2m1 (one unpacked
// code per byte), two bytes per code for bf16 and f16, four bytes per float32 for decode.
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/base/formats.h"

namespace {

constexpr size_t kChunk = size_t{1} << 20;

struct Format {
  std::string_view name;
  int code_bytes;     // bytes written per encoded value
  uint32_t code_count;  // number of code points (for decode)
  void (*encode_chunk)(const uint32_t* bits, size_t n, uint8_t* out);
  float (*decode)(uint32_t code);
};

template <auto Encode>
void encode8(const uint32_t* bits, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = Encode(std::bit_cast<float>(bits[i]));
}

template <auto Encode>
void encode16(const uint32_t* bits, size_t n, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint16_t code = Encode(std::bit_cast<float>(bits[i]));
    out[2 * i] = static_cast<uint8_t>(code & 0xFF);
    out[2 * i + 1] = static_cast<uint8_t>(code >> 8);
  }
}

template <auto Decode>
float decode8(uint32_t code) {
  return Decode(static_cast<uint8_t>(code));
}

template <auto Decode>
float decode16(uint32_t code) {
  return Decode(static_cast<uint16_t>(code));
}

const Format kFormats[] = {
    {"bf16", 2, 65536, encode16<fp4::f32_to_bf16>, decode16<fp4::bf16_to_f32>},
    {"f16", 2, 65536, encode16<fp4::f32_to_f16>, decode16<fp4::f16_to_f32>},
    {"e4m3", 1, 256, encode8<fp4::f32_to_e4m3>, decode8<fp4::e4m3_to_f32>},
    {"e4m3_nonsaturating", 1, 256, encode8<fp4::f32_to_e4m3_nonsaturating>, decode8<fp4::e4m3_to_f32>},
    {"e5m2", 1, 256, encode8<fp4::f32_to_e5m2>, decode8<fp4::e5m2_to_f32>},
    {"e5m2_satfinite", 1, 256, encode8<fp4::f32_to_e5m2_satfinite>, decode8<fp4::e5m2_to_f32>},
    {"e2m1", 1, 16, encode8<fp4::f32_to_e2m1>, decode8<fp4::e2m1_to_f32>},
    {"ue4m3", 1, 128, encode8<fp4::f32_to_ue4m3>, decode8<fp4::ue4m3_to_f32>},  // 0..127: the valid sign
};

int usage(const std::string& problem) {
  std::fprintf(stderr,
               "format_table: %s\nusage: format_table encode FORMAT [--range START COUNT] | format_table decode "
               "FORMAT\nFORMAT: bf16 f16 e4m3 e4m3_nonsaturating e5m2 e5m2_satfinite e2m1 ue4m3\n",
               problem.c_str());
  return 2;
}

bool parse_u64(std::string_view text, uint64_t* value) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, base);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool write_all(const void* data, size_t bytes) { return std::fwrite(data, 1, bytes, stdout) == bytes; }

int decode_all(const Format& format) {
  std::vector<uint8_t> out(size_t{format.code_count} * 4);
  for (uint32_t code = 0; code < format.code_count; ++code) {
    const uint32_t bits = std::bit_cast<uint32_t>(format.decode(code));
    for (int b = 0; b < 4; ++b) out[size_t{code} * 4 + b] = static_cast<uint8_t>(bits >> (8 * b));
  }
  return write_all(out.data(), out.size()) ? 0 : 1;
}

int encode_range(const Format& format, uint64_t start, uint64_t count) {
  std::vector<uint32_t> bits(kChunk);
  std::vector<uint8_t> out(kChunk * format.code_bytes);
  for (uint64_t done = 0; done < count;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, count - done));
    for (size_t i = 0; i < n; ++i) bits[i] = static_cast<uint32_t>(start + done + i);
    format.encode_chunk(bits.data(), n, out.data());
    if (!write_all(out.data(), n * format.code_bytes)) return 1;
    done += n;
  }
  return 0;
}

int encode_stdin(const Format& format) {
  std::vector<uint8_t> raw(kChunk * 4);
  std::vector<uint32_t> bits(kChunk);
  std::vector<uint8_t> out(kChunk * format.code_bytes);
  size_t pending = 0;  // bytes of an incomplete pattern carried to the next read
  for (;;) {
    const size_t got = std::fread(raw.data() + pending, 1, raw.size() - pending, stdin);
    const size_t have = pending + got;
    const size_t n = have / 4;
    for (size_t i = 0; i < n; ++i) {
      bits[i] = uint32_t{raw[4 * i]} | uint32_t{raw[4 * i + 1]} << 8 | uint32_t{raw[4 * i + 2]} << 16 |
                uint32_t{raw[4 * i + 3]} << 24;
    }
    format.encode_chunk(bits.data(), n, out.data());
    if (!write_all(out.data(), n * format.code_bytes)) return 1;
    pending = have - 4 * n;
    std::memmove(raw.data(), raw.data() + 4 * n, pending);
    if (got == 0) break;
  }
  if (pending != 0) {
    std::fprintf(stderr, "format_table: stdin ended inside a float32 (%zu trailing bytes); expected a multiple of 4\n",
                 pending);
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage("expected a mode and a format");
  const std::string_view mode = argv[1];
  const std::string_view name = argv[2];
  const Format* format = nullptr;
  for (const Format& f : kFormats) {
    if (f.name == name) format = &f;
  }
  if (format == nullptr) return usage("unknown format '" + std::string(name) + "'");
  if (mode == "decode") {
    if (argc != 3) return usage("decode takes no further arguments");
    return decode_all(*format);
  }
  if (mode != "encode") return usage("unknown mode '" + std::string(mode) + "'");
  if (argc == 3) return encode_stdin(*format);
  uint64_t start = 0, count = 0;
  if (argc != 6 || std::string_view(argv[3]) != "--range") return usage("expected --range START COUNT");
  if (!parse_u64(argv[4], &start) || !parse_u64(argv[5], &count)) return usage("START and COUNT must be integers");
  if (start > 0xFFFFFFFFull || count > 0x100000000ull - start) {
    return usage("the range must lie within the 2^32 float32 bit patterns");
  }
  return encode_range(*format, start, count);
}
