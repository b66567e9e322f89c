// Decoders (ids → text), built from tokenizer.json.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fp4/tokenizer/json_fields.h"

namespace fp4::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the list of token strings; the decoded text is their concatenation afterwards.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence.
std::unique_ptr<Decoder> make_decoder(const Json& value, const JsonPath& path);

}  // namespace fp4::tokenizer
