#include "fp4/tokenizer/bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <queue>

#include "fp4/tokenizer/byte_level.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::tokenizer {

void MergeTable::build(const std::vector<std::pair<std::uint64_t, Merge>>& entries) {
  std::size_t capacity = 16;
  while (capacity < entries.size() * 2) capacity <<= 1;  // load factor ≤ 0.5 keeps probe chains short
  keys_.assign(capacity, kEmpty);
  values_.assign(capacity, Merge{0, 0});
  mask_ = capacity - 1;
  for (const auto& [key, merge] : entries) {
    std::size_t slot = hash(key) & mask_;
    while (keys_[slot] != kEmpty && keys_[slot] != key) slot = (slot + 1) & mask_;
    keys_[slot] = key;  // a repeated pair keeps its last rank, as HF's map insertion does
    values_[slot] = merge;
  }
}

bool WordCache::lookup(std::string_view word, std::vector<std::uint32_t>& out) const {
  const Shard& shard = shards_[StringHash{}(word) % kShards];
  std::lock_guard lock(shard.mutex);
  const auto it = shard.map.find(word);
  if (it == shard.map.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::store(std::string_view word, const std::uint32_t* ids, std::size_t count) {
  Shard& shard = shards_[StringHash{}(word) % kShards];
  std::lock_guard lock(shard.mutex);
  if (shard.map.size() >= kMaxEntriesPerShard) return;
  shard.map.emplace(std::string(word), std::vector<std::uint32_t>(ids, ids + count));
}

namespace {

std::optional<std::string> optional_string(const Json& model, std::string_view key, const JsonPath& path) {
  const auto it = model.find(key);
  if (it == model.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail("{}: expected a string or null, found {}", (path / key).str(), it->dump());
  return it->get<std::string>();
}

// A merge is "left right" (older files) or ["left", "right"] (newer files, which allow spaces in tokens).
std::pair<std::string, std::string> parse_merge(const Json& entry, const JsonPath& path) {
  if (entry.is_string()) {
    const std::string& line = entry.get_ref<const std::string&>();
    const std::size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      fail("{}: expected \"left right\" with exactly one space, found {:?}", path.str(), line);
    }
    return {line.substr(0, space), line.substr(space + 1)};
  }
  if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
    return {entry[0].get<std::string>(), entry[1].get<std::string>()};
  }
  fail("{}: expected \"left right\" or [\"left\", \"right\"], found {}", path.str(), entry.dump());
}

}  // namespace

std::unique_ptr<BpeModel> BpeModel::from_json(const Json& model, const JsonPath& path) {
  require_object(model, path);
  if (model.contains("type")) {
    const std::string type = string_field(model, "type", path);
    if (type != "BPE") {
      fail("{}: unsupported model type \"{}\" (supported: BPE)", (path / "type").str(), type);
    }
  }
  auto bpe = std::make_unique<BpeModel>();
  const Json& vocab = require_field(model, "vocab", path);
  if (!vocab.is_object()) fail("{}: expected an object of token → id", (path / "vocab").str());
  bpe->vocab_.reserve(vocab.size());
  std::uint32_t limit = 0;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!is_non_negative_integer(it.value()) || it.value().get<std::uint64_t>() >= (1ull << 31)) {
      fail("{}: id of token {:?} must be a non-negative integer below 2^31, found {}", (path / "vocab").str(), it.key(),
           it.value().dump());
    }
    const auto id = it.value().get<std::uint32_t>();
    bpe->vocab_[it.key()] = id;
    limit = std::max(limit, id + 1);
  }
  bpe->id_to_token_.assign(limit, std::string());
  bpe->id_present_.assign(limit, false);
  for (const auto& [token, id] : bpe->vocab_) {
    bpe->id_to_token_[id] = token;
    bpe->id_present_[id] = true;
  }

  bpe->continuing_subword_prefix_ = optional_string(model, "continuing_subword_prefix", path).value_or("");
  bpe->end_of_word_suffix_ = optional_string(model, "end_of_word_suffix", path).value_or("");
  bpe->byte_fallback_ = bool_field(model, "byte_fallback", path, false);
  bpe->ignore_merges_ = bool_field(model, "ignore_merges", path, false);
  bpe->fuse_unk_ = bool_field(model, "fuse_unk", path, false);
  if (const auto unk = optional_string(model, "unk_token", path)) {
    const auto it = bpe->vocab_.find(*unk);
    if (it == bpe->vocab_.end()) fail("{}: unk_token {:?} is not in the vocabulary", (path / "unk_token").str(), *unk);
    bpe->unk_id_ = it->second;
  }

  const Json& merges = require_field(model, "merges", path);
  if (!merges.is_array()) fail("{}: expected an array", (path / "merges").str());
  std::vector<std::pair<std::uint64_t, MergeTable::Merge>> entries;
  entries.reserve(merges.size());
  const std::string& prefix = bpe->continuing_subword_prefix_;
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const JsonPath merge_path = (path / "merges")[rank];
    const auto [left, right] = parse_merge(merges[rank], merge_path);
    const auto left_it = bpe->vocab_.find(left);
    const auto right_it = bpe->vocab_.find(right);
    const std::string merged =
        left + (!prefix.empty() && right.starts_with(prefix) ? right.substr(prefix.size()) : right);
    const auto merged_it = bpe->vocab_.find(merged);
    if (left_it == bpe->vocab_.end() || right_it == bpe->vocab_.end() || merged_it == bpe->vocab_.end()) {
      const std::string& missing = left_it == bpe->vocab_.end() ? left
                                   : right_it == bpe->vocab_.end() ? right
                                                                  : merged;
      fail("{}: token {:?} of this merge is not in the vocabulary", merge_path.str(), missing);
    }
    entries.push_back({(std::uint64_t(left_it->second) << 32) | right_it->second,
                       {static_cast<std::uint32_t>(rank), merged_it->second}});
  }
  bpe->merges_.build(entries);

  for (int b = 0; b < 256; ++b) {
    const auto it = bpe->vocab_.find(byte_level_chars()[b]);
    bpe->byte_char_ids_[b] = it == bpe->vocab_.end() ? -1 : std::int64_t(it->second);
  }
  return bpe;
}

std::optional<std::uint32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(std::uint32_t id) const {
  return id < id_present_.size() && id_present_[id] ? &id_to_token_[id] : nullptr;
}

// The symbols a word starts as: one per character (with the subword prefix on all but the first and the
// suffix on the last), "<0xXX>" byte tokens for characters outside the vocabulary when byte_fallback is
// on, else the unknown token (runs of them fused when fuse_unk), else nothing.
void BpeModel::initial_symbols(std::string_view word, std::vector<std::uint32_t>& symbols) const {
  std::optional<std::uint32_t> pending_unk;
  std::string piece;
  for (std::size_t pos = 0; pos < word.size();) {
    const std::size_t start = pos;
    next_code_point(word, pos);
    piece.clear();
    if (start != 0) piece += continuing_subword_prefix_;
    piece.append(word.substr(start, pos - start));
    if (pos == word.size()) piece += end_of_word_suffix_;
    if (const auto it = vocab_.find(piece); it != vocab_.end()) {
      if (pending_unk) symbols.push_back(*std::exchange(pending_unk, std::nullopt));
      symbols.push_back(it->second);
      continue;
    }
    if (byte_fallback_) {
      std::vector<std::uint32_t> bytes;
      for (unsigned char b : piece) {
        const auto it = vocab_.find(fmt::format("<0x{:02X}>", b));
        if (it == vocab_.end()) break;
        bytes.push_back(it->second);
      }
      if (bytes.size() == piece.size()) {
        // HF emits these before a pending unknown token (the pending one is flushed later).
        symbols.insert(symbols.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (unk_id_) {
      if (pending_unk && !fuse_unk_) symbols.push_back(*pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk) symbols.push_back(*pending_unk);
}

void BpeModel::merge_short(std::vector<std::uint32_t>& symbols) const {
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  if (symbols.size() < 2) return;
  // rank[i] / merged[i]: the merge of symbols[i] and symbols[i + 1], if any.
  std::vector<std::uint32_t> rank(symbols.size() - 1), merged(symbols.size() - 1);
  const auto refresh = [&](std::size_t i) {
    const MergeTable::Merge* m = merges_.find(symbols[i], symbols[i + 1]);
    rank[i] = m ? m->rank : kNone;
    merged[i] = m ? m->merged_id : 0;
  };
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) refresh(i);
  while (!rank.empty()) {
    const std::size_t best = static_cast<std::size_t>(std::min_element(rank.begin(), rank.end()) - rank.begin());
    if (rank[best] == kNone) break;
    symbols[best] = merged[best];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    rank.erase(rank.begin() + static_cast<std::ptrdiff_t>(best));
    merged.erase(merged.begin() + static_cast<std::ptrdiff_t>(best));
    if (best < rank.size()) refresh(best);
    if (best > 0) refresh(best - 1);
  }
}

void BpeModel::merge_long(std::vector<std::uint32_t>& symbols) const {
  struct Symbol {
    std::uint32_t id;
    std::int64_t prev, next;
    bool alive;
  };
  struct Candidate {
    std::uint32_t rank;
    std::size_t pos;
    std::uint32_t merged_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const std::size_t n = symbols.size();
  if (n < 2) return;
  std::vector<Symbol> list(n);
  for (std::size_t i = 0; i < n; ++i) {
    list[i] = {symbols[i], std::int64_t(i) - 1, i + 1 < n ? std::int64_t(i + 1) : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (const auto* m = merges_.find(list[i].id, list[i + 1].id)) queue.push({m->rank, i, m->merged_id});
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = list[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = list[static_cast<std::size_t>(left.next)];
    const auto* current = merges_.find(left.id, right.id);
    if (current == nullptr || current->merged_id != top.merged_id) continue;  // stale entry
    left.id = top.merged_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) list[static_cast<std::size_t>(right.next)].prev = std::int64_t(top.pos);
    if (left.prev >= 0) {
      const Symbol& before = list[static_cast<std::size_t>(left.prev)];
      if (const auto* m = merges_.find(before.id, left.id)) {
        queue.push({m->rank, static_cast<std::size_t>(left.prev), m->merged_id});
      }
    }
    if (left.next >= 0) {
      if (const auto* m = merges_.find(left.id, list[static_cast<std::size_t>(left.next)].id)) {
        queue.push({m->rank, top.pos, m->merged_id});
      }
    }
  }
  symbols.clear();
  for (const Symbol& s : list) {
    if (s.alive) symbols.push_back(s.id);
  }
}

void BpeModel::tokenize_uncached(std::string_view word, bool map_bytes, std::vector<std::uint32_t>& ids) const {
  // Words longer than this use the heap-based merge, O(n log n); shorter ones the array scan, which is
  // faster for the few symbols of a typical word.
  constexpr std::size_t kShortWordSymbols = 48;
  std::string mapped;
  std::string_view text = word;
  std::vector<std::uint32_t> symbols;
  bool have_symbols = false;
  if (map_bytes) {
    if (continuing_subword_prefix_.empty() && end_of_word_suffix_.empty() && !ignore_merges_) {
      symbols.reserve(word.size());
      have_symbols = true;
      for (unsigned char b : word) {
        if (byte_char_ids_[b] < 0) {
          have_symbols = false;
          break;
        }
        symbols.push_back(static_cast<std::uint32_t>(byte_char_ids_[b]));
      }
    }
    if (!have_symbols) {
      byte_level_encode(word, mapped);
      text = mapped;
    }
  }
  if (ignore_merges_) {
    if (const auto it = vocab_.find(text); it != vocab_.end()) {
      ids.push_back(it->second);
      return;
    }
  }
  if (!have_symbols) {
    symbols.clear();
    initial_symbols(text, symbols);
  }
  if (symbols.size() <= kShortWordSymbols) {
    merge_short(symbols);
  } else {
    merge_long(symbols);
  }
  ids.insert(ids.end(), symbols.begin(), symbols.end());
}

void BpeModel::tokenize(std::string_view word, bool map_bytes, std::vector<std::uint32_t>& ids) const {
  if (word.empty()) return;
  const bool cacheable = word.size() < WordCache::kMaxWordBytes;
  if (cacheable && cache_.lookup(word, ids)) return;
  const std::size_t before = ids.size();
  tokenize_uncached(word, map_bytes, ids);
  if (cacheable) cache_.store(word, ids.data() + before, ids.size() - before);
}

}  // namespace fp4::tokenizer
