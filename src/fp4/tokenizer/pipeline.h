// The text stages of the encoder: normalizers and pre-tokenizers, each built from its tokenizer.json
// object. Only ids are produced, so no alignment (offset) bookkeeping is kept.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fp4/tokenizer/json_fields.h"
#include "fp4/tokenizer/regex.h"

namespace fp4::tokenizer {

// A piece of text between pre-tokenization steps. `at_origin` is true when the piece starts at byte 0
// of the original input (Metaspace's prepend_scheme "first" depends on it).
struct Piece {
  std::string_view text;
  bool at_origin;
};

// Owns the text of pieces that a step rewrote (pieces that are only slices keep pointing at their parent).
class PieceArena {
 public:
  std::string_view keep(std::string text) { return store_.emplace_back(std::move(text)); }
  void clear() { store_.clear(); }

 private:
  std::deque<std::string> store_;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites `text`. Returns true when characters were removed from its start, so that the result no
  // longer begins where the original did (Metaspace's "first" scheme asks HF's alignments exactly that).
  virtual bool normalize(std::string& text) const = 0;
};

// Builds a normalizer from its JSON object (NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip,
// Sequence). Throws fp4::Error naming the path for an unknown type or a bad field.
std::unique_ptr<Normalizer> make_normalizer(const Json& value, const JsonPath& path);

// How a split treats the pieces its pattern matches (HF SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their sub-pieces. With `defer_byte_level`, a final ByteLevel step does its
  // splitting but leaves the byte → character mapping to the model (which then maps only words that miss
  // its cache).
  virtual void pre_tokenize(std::vector<Piece>& pieces, PieceArena& arena, bool defer_byte_level) const = 0;
  // True when the last step is ByteLevel, so its character mapping can be deferred.
  virtual bool ends_with_byte_level() const { return false; }
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const Json& value, const JsonPath& path);

// A {"String": "..."} (literal) or {"Regex": "..."} (Oniguruma syntax) pattern object.
Regex make_pattern(const Json& value, const JsonPath& path);

// Splits every piece by the matches of `pattern`, keeping/merging/removing them as `behavior` says;
// `invert` swaps matches and the text between them. Empty pieces are dropped.
void split_pieces(std::vector<Piece>& pieces, const Regex& pattern, SplitBehavior behavior, bool invert);

}  // namespace fp4::tokenizer
