#include "fp4/tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/tokenizer/added_vocabulary.h"
#include "fp4/tokenizer/bpe.h"
#include "fp4/tokenizer/decoders.h"
#include "fp4/tokenizer/pipeline.h"
#include "fp4/tokenizer/post_processors.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  bool defer_byte_level = false;
  TokenizerConfig config;

  void encode_into(std::string_view text, bool add_special_tokens, std::vector<std::uint32_t>& ids) const;
};

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open file", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("{}: read error", path.string());
  return buffer.str();
}

Json parse_json(std::string_view text, std::string_view source) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    fail("{}: malformed JSON: {}", source, e.what());
  }
}

std::vector<AddedToken> parse_added_tokens(const Json& root, const JsonPath& root_path) {
  std::vector<AddedToken> tokens;
  const auto it = root.find("added_tokens");
  if (it == root.end() || it->is_null()) return tokens;
  const JsonPath path = root_path / "added_tokens";
  if (!it->is_array()) fail("{}: expected an array", path.str());
  for (std::size_t i = 0; i < it->size(); ++i) {
    const Json& entry = (*it)[i];
    const JsonPath entry_path = path[i];
    AddedToken token;
    token.content = string_field(entry, "content", entry_path);
    if (find_invalid_utf8(token.content) != std::string_view::npos) fail("{}: content is not valid UTF-8", entry_path.str());
    token.id = static_cast<std::uint32_t>(uint_field(entry, "id", entry_path, 0));
    token.special = bool_field(entry, "special", entry_path, false);
    token.single_word = bool_field(entry, "single_word", entry_path, false);
    token.lstrip = bool_field(entry, "lstrip", entry_path, false);
    token.rstrip = bool_field(entry, "rstrip", entry_path, false);
    token.normalized = bool_field(entry, "normalized", entry_path, !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

// A component that may be null (absent) in tokenizer.json.
const Json* optional_component(const Json& root, std::string_view key) {
  const auto it = root.find(key);
  return it == root.end() || it->is_null() ? nullptr : &*it;
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json(std::string_view json_text, std::string_view source) {
  const Json root = parse_json(json_text, source);
  const JsonPath path{std::string(source) + ":"};
  if (!root.is_object()) fail("{} expected a JSON object at the top level, found {}", path.str(), root.type_name());
  auto impl = std::make_unique<Impl>();
  impl->model = BpeModel::from_json(require_field(root, "model", path), path / "model");
  if (const Json* n = optional_component(root, "normalizer")) impl->normalizer = make_normalizer(*n, path / "normalizer");
  if (const Json* p = optional_component(root, "pre_tokenizer")) {
    impl->pre_tokenizer = make_pre_tokenizer(*p, path / "pre_tokenizer");
    impl->defer_byte_level = impl->pre_tokenizer->ends_with_byte_level();
  }
  if (const Json* p = optional_component(root, "post_processor")) {
    impl->post_processor = make_post_processor(*p, path / "post_processor");
  }
  if (const Json* d = optional_component(root, "decoder")) impl->decoder = make_decoder(*d, path / "decoder");
  impl->added.build(parse_added_tokens(root, path), *impl->model);
  const Normalizer* normalizer = impl->normalizer.get();
  impl->added.build_normalized_matcher([normalizer](const std::string& content) {
    std::string text = content;
    if (normalizer) normalizer->normalize(text);
    return text;
  });
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  return from_json(read_file(tokenizer_json), tokenizer_json.string());
}

Tokenizer Tokenizer::from_directory(const std::filesystem::path& dir) {
  const auto json_path = dir / "tokenizer.json";
  if (!std::filesystem::exists(json_path)) fail("{}: no tokenizer.json in this folder", dir.string());
  Tokenizer tokenizer = from_file(json_path);
  const auto config_path = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(config_path)) return tokenizer;
  TokenizerConfig config = parse_tokenizer_config(read_file(config_path), config_path.string());
  // transformers' LlamaTokenizerFast rebuilds the post-processor from add_bos_token / add_eos_token.
  const bool llama_class = config.tokenizer_class.starts_with("Llama") || config.tokenizer_class.starts_with("CodeLlama");
  if (llama_class && (config.add_bos_token || config.add_eos_token)) {
    std::vector<std::uint32_t> bos, eos;
    const auto special_id = [&](const std::optional<std::string>& token, std::string_view field) {
      if (!token) fail("{}: {} is on but the token is not set", config_path.string(), field);
      const auto id = tokenizer.token_to_id(*token);
      if (!id) fail("{}: {} token {:?} is not in the vocabulary", config_path.string(), field, *token);
      return *id;
    };
    if (config.add_bos_token.value_or(false)) bos.push_back(special_id(config.bos_token, "add_bos_token"));
    if (config.add_eos_token.value_or(false)) eos.push_back(special_id(config.eos_token, "add_eos_token"));
    tokenizer.impl_->post_processor = make_bos_eos_processor(std::move(bos), std::move(eos));
  }
  tokenizer.impl_->config = std::move(config);
  return tokenizer;
}

void Tokenizer::Impl::encode_into(std::string_view text, bool add_special_tokens,
                                  std::vector<std::uint32_t>& ids) const {
  if (const std::size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    fail("input text is not valid UTF-8 (byte {} of {}: 0x{:02X})", bad, text.size(),
         static_cast<unsigned char>(text[bad]));
  }
  PieceArena arena;
  std::vector<AddedSplit> raw_splits, normalized_splits;
  std::vector<Piece> pieces;
  added.split(text, /*normalized_tokens=*/false, raw_splits);
  std::string normalized;
  for (const AddedSplit& raw : raw_splits) {
    if (raw.id) {
      ids.push_back(*raw.id);
      continue;
    }
    std::string_view piece = text.substr(raw.start, raw.end - raw.start);
    bool at_origin = raw.start == 0;
    if (normalizer) {
      normalized.assign(piece);
      if (normalizer->normalize(normalized)) at_origin = false;
      piece = normalized;
    }
    added.split(piece, /*normalized_tokens=*/true, normalized_splits);
    for (const AddedSplit& part : normalized_splits) {
      if (part.id) {
        ids.push_back(*part.id);
        continue;
      }
      if (part.end == part.start) continue;
      pieces.assign(1, Piece{piece.substr(part.start, part.end - part.start), at_origin && part.start == 0});
      if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces, arena, defer_byte_level);
      for (const Piece& word : pieces) model->tokenize(word.text, defer_byte_level, ids);
      arena.clear();
    }
  }
  if (add_special_tokens && post_processor) post_processor->process(ids);
}

std::vector<std::uint32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<std::uint32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  impl_->encode_into(text, add_special_tokens, ids);
  return ids;
}

std::vector<std::uint32_t> Tokenizer::encode_pair(std::string_view text, std::string_view pair,
                                                  bool add_special_tokens) const {
  if (const std::size_t bad = find_invalid_utf8(pair); bad != std::string_view::npos) {
    fail("pair text is not valid UTF-8 (byte {} of {}: 0x{:02X})", bad, pair.size(), static_cast<unsigned char>(pair[bad]));
  }
  // As HF: each text is encoded on its own, then the post-processor sees both (its pair template); without
  // one they are simply joined.
  EncodedParts parts(2);
  impl_->encode_into(text, /*add_special_tokens=*/false, parts[0]);
  impl_->encode_into(pair, /*add_special_tokens=*/false, parts[1]);
  if (impl_->post_processor) impl_->post_processor->process_parts(parts, add_special_tokens);
  std::size_t total = 0;
  for (const auto& part : parts) total += part.size();
  std::vector<std::uint32_t> ids;
  ids.reserve(total);
  for (const auto& part : parts) ids.insert(ids.end(), part.begin(), part.end());
  return ids;
}

std::vector<std::vector<std::uint32_t>> Tokenizer::encode_batch(std::span<const std::string> texts,
                                                                bool add_special_tokens, unsigned threads) const {
  std::vector<std::vector<std::uint32_t>> results(texts.size());
  const auto encode_one = [&](std::int64_t i, int) {
    impl_->encode_into(texts[static_cast<std::size_t>(i)], add_special_tokens, results[static_cast<std::size_t>(i)]);
  };
  if (threads == 0) {
    ThreadPool::global().parallel_for(static_cast<std::int64_t>(texts.size()), encode_one);
  } else {
    ThreadPool pool(static_cast<int>(threads));
    pool.parallel_for(static_cast<std::int64_t>(texts.size()), encode_one);
  }
  return results;
}

std::string Tokenizer::decode(std::span<const std::uint32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (std::uint32_t id : ids) {
    const std::string* token = nullptr;
    if (const AddedToken* added = impl_->added.find_id(id)) {
      token = &added->token_text;
    } else {
      token = impl_->model->id_to_token(id);
    }
    if (token == nullptr) continue;
    if (skip_special_tokens && impl_->added.is_special(*token)) continue;
    tokens.push_back(*token);
  }
  if (impl_->decoder) {
    impl_->decoder->decode_chain(tokens);
    std::string text;
    for (const std::string& t : tokens) text += t;
    return text;
  }
  std::string text;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) text.push_back(' ');
    text += tokens[i];
  }
  return text;
}

std::optional<std::string> Tokenizer::id_to_token(std::uint32_t id) const {
  if (const AddedToken* added = impl_->added.find_id(id)) return added->token_text;
  if (const std::string* token = impl_->model->id_to_token(id)) return *token;
  return std::nullopt;
}

std::optional<std::uint32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const auto id = impl_->added.find_content(token)) return id;
  return impl_->model->token_to_id(token);
}

std::size_t Tokenizer::vocab_size() const {
  std::size_t size = impl_->model->vocab_size();
  for (const AddedToken& token : impl_->added.tokens()) {
    if (!impl_->model->id_to_token(token.id)) ++size;
  }
  return size;
}

bool Tokenizer::is_special_id(std::uint32_t id) const {
  const AddedToken* added = impl_->added.find_id(id);
  return added != nullptr && added->special;
}

const TokenizerConfig& Tokenizer::config() const { return impl_->config; }

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tokenizer_(&tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string StreamDecoder::step(std::uint32_t id) {
  window_.push_back(id);
  const std::string text = tokenizer_->decode(window_, skip_special_tokens_);
  const bool incomplete = text.size() >= 3 && text.compare(text.size() - 3, 3, "\xEF\xBF\xBD") == 0;
  if (text.size() <= emitted_text_.size() || incomplete) return {};
  // The emitted ids stay in front as context so that decoders that look at neighbours (Metaspace's
  // leading space) see the same surroundings; the new text is what follows the context's text.
  std::size_t common = 0;
  while (common < emitted_text_.size() && text[common] == emitted_text_[common]) ++common;
  std::string fresh = text.substr(common);
  window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(emitted_));
  emitted_ = window_.size();
  emitted_text_ = tokenizer_->decode(window_, skip_special_tokens_);
  return fresh;
}

std::string StreamDecoder::flush() {
  const std::string text = tokenizer_->decode(window_, skip_special_tokens_);
  std::string rest = text.size() > emitted_text_.size() ? text.substr(emitted_text_.size()) : std::string();
  window_.clear();
  emitted_ = 0;
  emitted_text_.clear();
  return rest;
}

}  // namespace fp4::tokenizer
