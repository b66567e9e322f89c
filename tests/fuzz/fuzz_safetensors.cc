// libFuzzer target: the safetensors header parser on arbitrary bytes. Every input must either parse into
// a header whose invariants hold or be refused with fp4::Error; anything else (a crash, a sanitizer report,
// another exception type) is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fp4/base/error.h"
#include "fp4/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fp4::io::SafetensorsHeader;
  SafetensorsHeader header;
  try {
    header = fp4::io::parse_safetensors_image(std::span<const uint8_t>(data, size), "fuzz.safetensors");
  } catch (const fp4::Error&) {
    return 0;
  }
  // Invariants a successful parse promises to every reader.
  if (8 + header.header_bytes + header.data_bytes != size) __builtin_trap();
  uint64_t previous_end = 0;
  for (const auto& t : header.tensors) {
    if (t.data_begin > t.data_end || t.data_end > header.data_bytes) __builtin_trap();
    if (static_cast<uint64_t>(t.numel()) * fp4::dtype_size(t.dtype) != t.nbytes()) __builtin_trap();
    if (t.nbytes() > 0) {
      if (t.data_begin < previous_end) __builtin_trap();
      previous_end = t.data_end;
    }
  }
  return 0;
}
