// A Hugging Face tokenizer.json, loaded and run natively: added tokens, normalizer, pre-tokenizer, BPE
// model, post-processor and decoder, giving the same ids as HF `tokenizers`.
//
// Input text must be valid UTF-8: encode() throws fp4::Error naming the byte offset of the first invalid
// sequence (HF's Python API cannot be given such text at all; its Rust API takes &str). Callers holding
// untrusted bytes can pass them through to_valid_utf8() (utf8.h) first, which replaces each invalid
// sequence with U+FFFD exactly as Python's bytes.decode(errors="replace") does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fp4::tokenizer {

// The fields of tokenizer_config.json the engine uses (all optional in the file).
struct TokenizerConfig {
  std::string tokenizer_class;
  std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
  std::optional<bool> add_bos_token, add_eos_token;
  std::optional<std::string> chat_template;  // the default template (a named "default" one, or the only one)
  std::optional<std::uint64_t> model_max_length;
  bool clean_up_tokenization_spaces = false;
};

// Parses tokenizer_config.json text; `source` names the file in errors.
TokenizerConfig parse_tokenizer_config(std::string_view json_text, std::string_view source);

class Tokenizer {
 public:
  // Parses tokenizer.json text; `source` names the file in errors. Throws fp4::Error for malformed JSON, a
  // missing or mistyped field, or a component type this implementation does not have.
  static Tokenizer from_json(std::string_view json_text, std::string_view source = "tokenizer.json");
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  // Loads DIR/tokenizer.json and DIR/tokenizer_config.json when present. As transformers does for the
  // Llama tokenizer classes (which DeepSeek-V3/R1 use), add_bos_token / add_eos_token from the config then
  // decide the special tokens added around an encoded text.
  static Tokenizer from_directory(const std::filesystem::path& dir);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<std::uint32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // A pair of texts, as HF's Tokenizer.encode(sequence, pair): each text is encoded on its own, then the
  // post-processor's pair template joins them (Llama 3.1+: "<|begin_of_text|> A <|begin_of_text|> B"; the
  // transformers Llama classes: "<bos> A <eos> <bos> B <eos>" by add_bos_token / add_eos_token; none: A B).
  // Throws fp4::Error when the tokenizer.json's pair template cannot be applied (HF panics there).
  std::vector<std::uint32_t> encode_pair(std::string_view text, std::string_view pair,
                                         bool add_special_tokens = true) const;
  // Encodes every text on a thread pool (`threads` = 0: the process-wide pool, else a pool of that many
  // threads). Results are in input order; the first error is rethrown after all texts are done.
  std::vector<std::vector<std::uint32_t>> encode_batch(std::span<const std::string> texts,
                                                       bool add_special_tokens = true, unsigned threads = 0) const;
  // Ids without a token (outside the vocabulary and the added tokens) are skipped, as HF does.
  std::string decode(std::span<const std::uint32_t> ids, bool skip_special_tokens = false) const;

  std::optional<std::string> id_to_token(std::uint32_t id) const;
  std::optional<std::uint32_t> token_to_id(std::string_view token) const;
  // Model vocabulary plus added tokens not in it.
  std::size_t vocab_size() const;
  bool is_special_id(std::uint32_t id) const;
  const TokenizerConfig& config() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class StreamDecoder;
};

// Turns a stream of generated ids into text, emitting only complete UTF-8: a character whose bytes are
// split over several tokens comes out with the token that completes it.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  // The text that the new token completes (often empty).
  std::string step(std::uint32_t id);
  // Whatever is still held back at the end of the stream (an incomplete character shows as U+FFFD).
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_tokens_;
  std::vector<std::uint32_t> window_;  // ids already emitted (kept as context) followed by pending ids
  std::size_t emitted_ = 0;            // how many ids at the front of window_ were already emitted
  std::string emitted_text_;           // decode(window_[0, emitted_))
};

}  // namespace fp4::tokenizer
