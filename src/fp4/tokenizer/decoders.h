// Decoders (ids → text) and post-processors (special tokens around an encoded sequence), built from
// tokenizer.json.
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

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Adds the special tokens of a single sequence (called only when special tokens are wanted).
  virtual void process(std::vector<std::uint32_t>& ids) const = 0;
};

// ByteLevel (ids unchanged), TemplateProcessing (its "single" template), RobertaProcessing,
// BertProcessing, Sequence.
std::unique_ptr<PostProcessor> make_post_processor(const Json& value, const JsonPath& path);

// "<bos> $A <eos>"-style processor built from ids, as transformers sets one up from tokenizer_config.json.
std::unique_ptr<PostProcessor> make_bos_eos_processor(std::vector<std::uint32_t> prefix,
                                                      std::vector<std::uint32_t> suffix);

}  // namespace fp4::tokenizer
