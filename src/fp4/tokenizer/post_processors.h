// Post-processors: the special tokens a tokenizer.json puts around an encoded text or an encoded pair of
// texts (HF `tokenizers`' Tokenizer.encode(sequence, pair)).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fp4/tokenizer/json_fields.h"

namespace fp4::tokenizer {

// The encoded parts a post-processor rewrites before they are concatenated: {A} for one text, {A, B} for a
// pair. As in HF, a TemplateProcessing leaves one part per template entry, so a processor later in a
// Sequence sees those parts, not the two texts.
using EncodedParts = std::vector<std::vector<std::uint32_t>>;

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Adds the special tokens of a single sequence (called only when special tokens are wanted); the fast
  // path of process_parts() for {A} with add_special_tokens on.
  virtual void process(std::vector<std::uint32_t>& ids) const = 0;
  // HF's process_encodings: rewrites the parts, adding special tokens only when add_special_tokens is on.
  // Throws fp4::Error where HF would panic (a template entry naming a special token that special_tokens
  // lacks, a template given more parts than it has sequences).
  virtual void process_parts(EncodedParts& parts, bool add_special_tokens) const = 0;
  // Whether the ids pass through unchanged (ByteLevel), and whether one part can come out as several
  // (TemplateProcessing): a Sequence uses them to know when its single-text fast path is exact.
  virtual bool is_identity() const { return false; }
  virtual bool splits_parts() const { return false; }
};

// ByteLevel (ids unchanged), TemplateProcessing (single and pair templates), RobertaProcessing,
// BertProcessing, Sequence.
std::unique_ptr<PostProcessor> make_post_processor(const Json& value, const JsonPath& path);

// What transformers sets up from tokenizer_config.json's add_bos_token / add_eos_token for the Llama
// tokenizer classes: single "<bos> $A <eos>", pair "<bos> $A <eos> <bos> $B <eos>" (each special token
// only where its flag is on; `bos` / `eos` empty for an off flag).
std::unique_ptr<PostProcessor> make_bos_eos_processor(std::vector<std::uint32_t> bos, std::vector<std::uint32_t> eos);

}  // namespace fp4::tokenizer
