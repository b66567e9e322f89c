// The tokenizer pipeline on a small hand-made byte-level BPE: merges in both JSON shapes, added tokens,
// post-processing, decoding, the streaming detokenizer, batch encoding and the errors for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/tokenizer/bpe.h"
#include "fp4/tokenizer/byte_level.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::tokenizer {
namespace {

using nlohmann::json;

// Vocabulary: the 256 byte characters (ids 0..255) and the merged tokens below.
json tiny_tokenizer_json(bool merges_as_pairs) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level_chars()[b]] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"a", "a"}, {"aa", "aa"}, {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\xC4\xA0", "w"}};
  json merge_list = json::array();
  int next_id = 256;
  for (const auto& [left, right] : merges) {
    vocab[left + right] = next_id++;
    merge_list.push_back(merges_as_pairs ? json::array({left, right}) : json(left + " " + right));
  }
  vocab["<s>"] = next_id++;
  json added = json::array({
      {{"id", 264}, {"content", "<|special|>"}, {"special", true}, {"normalized", false}, {"lstrip", false},
       {"rstrip", false}, {"single_word", false}},
      {{"id", 265}, {"content", "[MASK]"}, {"special", true}, {"normalized", false}, {"lstrip", true},
       {"rstrip", true}, {"single_word", false}},
  });
  return {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", json::array()},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", json::array({next_id - 1})}, {"tokens", json::array({"<s>"})}}}}}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merge_list}, {"byte_fallback", false}, {"dropout", nullptr}}},
  };
}

Tokenizer tiny(bool pairs = true) { return Tokenizer::from_json(tiny_tokenizer_json(pairs).dump(), "tiny.json"); }

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const fp4::Error& e) {
    return e.what();
  }
  return "";
}

TEST(Tokenizer, MergesAndBothMergeShapes) {
  for (bool pairs : {true, false}) {
    const Tokenizer tok = tiny(pairs);
    const auto hello = *tok.token_to_id("hello");
    const auto aaaa = *tok.token_to_id("aaaa");
    const auto aa = *tok.token_to_id("aa");
    EXPECT_EQ(tok.encode("hello", false), (std::vector<std::uint32_t>{hello}));
    EXPECT_EQ(tok.encode("aaa", false), (std::vector<std::uint32_t>{aa, 'a'}));
    EXPECT_EQ(tok.encode("aaaaaaaaa", false), (std::vector<std::uint32_t>{aaaa, aaaa, 'a'}));
    EXPECT_EQ(tok.encode(" w", false), (std::vector<std::uint32_t>{*tok.token_to_id("\xC4\xA0w")}));
  }
}

TEST(Tokenizer, PostProcessorAddsTemplateTokens) {
  const Tokenizer tok = tiny();
  const auto bos = *tok.token_to_id("<s>");
  EXPECT_EQ(tok.encode("hello").front(), bos);
  EXPECT_EQ(tok.encode("hello").size(), 2u);
  EXPECT_EQ(tok.encode("hello", false).size(), 1u);
}

TEST(Tokenizer, AddedTokensSplitBeforeTheModelAndStripSpaces) {
  const Tokenizer tok = tiny();
  const std::vector<std::uint32_t> ids = tok.encode("hello<|special|>hello  [MASK]  hello", false);
  const auto hello = *tok.token_to_id("hello");
  const auto special = *tok.token_to_id("<|special|>");
  const auto mask = *tok.token_to_id("[MASK]");
  // Ids of added tokens outside the vocabulary follow it, whatever the file says (HF's rule).
  EXPECT_EQ(special, 264u);
  EXPECT_EQ(mask, 265u);
  // [MASK] swallows the spaces on both sides (lstrip, rstrip).
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{hello, special, hello, mask, hello}));
  EXPECT_EQ(tok.decode(ids), "hello<|special|>hello[MASK]hello");
  EXPECT_EQ(tok.decode(ids, /*skip_special_tokens=*/true), "hellohellohello");
  EXPECT_TRUE(tok.is_special_id(special));
  EXPECT_FALSE(tok.is_special_id(hello));
}

TEST(Tokenizer, DecodeRoundTripsAndSkipsUnknownIds) {
  const Tokenizer tok = tiny();
  const std::string text = "héllo wörld 한국어 😀 \t\n  x";
  EXPECT_EQ(tok.decode(tok.encode(text, false)), text);
  std::vector<std::uint32_t> ids = tok.encode("hello", false);
  ids.push_back(999999);  // no such token: skipped, as HF does
  EXPECT_EQ(tok.decode(ids), "hello");
}

TEST(Tokenizer, StreamDecoderWaitsForCompleteCharacters) {
  const Tokenizer tok = tiny();
  const std::vector<std::uint32_t> ids = tok.encode("a😀b", false);  // 😀 is four one-byte tokens here
  ASSERT_EQ(ids.size(), 6u);
  StreamDecoder stream(tok);
  std::vector<std::string> pieces;
  for (std::uint32_t id : ids) pieces.push_back(stream.step(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"a", "", "", "", "😀", "b"}));
  EXPECT_EQ(stream.flush(), "");
}

TEST(Tokenizer, StreamDecoderFlushesAnIncompleteTail) {
  const Tokenizer tok = tiny();
  StreamDecoder stream(tok);
  EXPECT_EQ(stream.step(0xF0), "");  // ids are byte values here: the first byte of a 4-byte character
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
}

TEST(Tokenizer, BatchEncodeEqualsOneByOne) {
  const Tokenizer tok = tiny();
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) texts.push_back(std::string(static_cast<std::size_t>(i % 17), 'a') + " hello " + std::to_string(i));
  const auto batch = tok.encode_batch(texts, true, 4);
  ASSERT_EQ(batch.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(batch[i], tok.encode(texts[i], true)) << i;
}

TEST(Tokenizer, VeryLongWordUsesTheHeapMerge) {
  const Tokenizer tok = tiny();
  const std::vector<std::uint32_t> ids = tok.encode(std::string(1'000'000, 'a'), false);
  ASSERT_EQ(ids.size(), 250'000u);
  EXPECT_EQ(ids.front(), *tok.token_to_id("aaaa"));
}

TEST(Tokenizer, InvalidUtf8IsAnError) {
  const Tokenizer tok = tiny();
  const std::string message = error_of([&] { tok.encode(std::string("ok\xC3(", 4)); });
  EXPECT_NE(message.find("not valid UTF-8"), std::string::npos) << message;
  EXPECT_NE(message.find("byte 2"), std::string::npos) << message;
}

TEST(Tokenizer, MalformedFilesAreClearErrors) {
  EXPECT_NE(error_of([] { Tokenizer::from_json("{\"model\": ", "bad.json"); }).find("bad.json: malformed JSON"),
            std::string::npos);
  json doc = tiny_tokenizer_json(true);
  doc["normalizer"] = {{"type", "Precompiled"}};
  std::string message = error_of([&] { Tokenizer::from_json(doc.dump(), "t.json"); });
  EXPECT_NE(message.find("normalizer"), std::string::npos) << message;
  EXPECT_NE(message.find("unsupported normalizer type \"Precompiled\""), std::string::npos) << message;

  doc = tiny_tokenizer_json(true);
  doc["model"]["type"] = "Unigram";
  EXPECT_NE(error_of([&] { Tokenizer::from_json(doc.dump(), "t.json"); }).find("unsupported model type \"Unigram\""),
            std::string::npos);

  doc = tiny_tokenizer_json(true);
  doc["model"]["merges"].push_back(json::array({"zz", "q"}));
  message = error_of([&] { Tokenizer::from_json(doc.dump(), "t.json"); });
  EXPECT_NE(message.find("merges[7]"), std::string::npos) << message;
  EXPECT_NE(message.find("not in the vocabulary"), std::string::npos) << message;

  doc = tiny_tokenizer_json(true);
  doc["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(oops"}}}, {"behavior", "Isolated"}};
  message = error_of([&] { Tokenizer::from_json(doc.dump(), "t.json"); });
  EXPECT_NE(message.find("pre_tokenizer.pattern.Regex"), std::string::npos) << message;

  doc = tiny_tokenizer_json(true);
  doc["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}};
  EXPECT_NE(error_of([&] { Tokenizer::from_json(doc.dump(), "t.json"); }).find("unknown split behavior \"Sideways\""),
            std::string::npos);

  doc = tiny_tokenizer_json(true);
  doc.erase("model");
  EXPECT_NE(error_of([&] { Tokenizer::from_json(doc.dump(), "t.json"); }).find("missing field \"model\""), std::string::npos);
}

TEST(Tokenizer, DirectoryConfigAddsBosLikeTransformers) {
  const auto dir = std::filesystem::temp_directory_path() / ("fp4_tokenizer_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  json doc = tiny_tokenizer_json(true);
  doc["post_processor"] = {{"type", "ByteLevel"}};
  std::ofstream(dir / "tokenizer.json") << doc.dump();
  std::ofstream(dir / "tokenizer_config.json")
      << json{{"tokenizer_class", "LlamaTokenizerFast"}, {"add_bos_token", true}, {"add_eos_token", false},
              {"bos_token", {{"content", "<s>"}, {"special", true}}}, {"eos_token", "[MASK]"},
              {"chat_template", "{{ bos_token }}"}}
             .dump();
  const Tokenizer tok = Tokenizer::from_directory(dir);
  EXPECT_EQ(tok.encode("hello").front(), *tok.token_to_id("<s>"));
  EXPECT_EQ(tok.config().chat_template.value_or(""), "{{ bos_token }}");
  EXPECT_EQ(tok.config().eos_token.value_or(""), "[MASK]");
  // transformers' pair template for these classes: "<bos> $A <bos> $B" (add_eos_token is off).
  const auto bos = *tok.token_to_id("<s>");
  const auto hello = *tok.token_to_id("hello");
  const auto aa = *tok.token_to_id("aa");
  EXPECT_EQ(tok.encode_pair("hello", "aa"), (std::vector<std::uint32_t>{bos, hello, bos, aa}));
  EXPECT_EQ(tok.encode_pair("hello", "aa", false), (std::vector<std::uint32_t>{hello, aa}));
  std::filesystem::remove_all(dir);
}

json special_token_entry(const std::string& name, std::uint32_t id) {
  return {{"id", name}, {"ids", json::array({id})}, {"tokens", json::array({name})}};
}

json piece(const std::string& kind, const std::string& id, int type_id = 0) {
  return {{kind, {{"id", id}, {"type_id", type_id}}}};
}

TEST(Tokenizer, PairEncodingFollowsThePairTemplate) {
  json doc = tiny_tokenizer_json(true);
  const std::uint32_t bos_id = doc["post_processor"]["special_tokens"]["<s>"]["ids"][0];
  doc["post_processor"]["special_tokens"]["<|special|>"] = special_token_entry("<|special|>", 264);
  // $B first and twice, as a template may: each sequence entry copies that sequence.
  doc["post_processor"]["pair"] = json::array({piece("Sequence", "B", 1), piece("SpecialToken", "<s>"),
                                               piece("Sequence", "A"), piece("SpecialToken", "<|special|>", 1),
                                               piece("Sequence", "B", 1)});
  const Tokenizer tok = Tokenizer::from_json(doc.dump(), "pair.json");
  const auto hello = *tok.token_to_id("hello");
  const auto aa = *tok.token_to_id("aa");
  EXPECT_EQ(tok.encode_pair("hello", "aa"), (std::vector<std::uint32_t>{aa, bos_id, hello, 264, aa}));
  // Without special tokens the template still orders the sequences.
  EXPECT_EQ(tok.encode_pair("hello", "aa", false), (std::vector<std::uint32_t>{aa, hello, aa}));
  EXPECT_EQ(tok.encode("hello"), (std::vector<std::uint32_t>{bos_id, hello}));  // the single template

  doc["post_processor"] = nullptr;  // no post-processor: the two encodings joined
  EXPECT_EQ(Tokenizer::from_json(doc.dump(), "none.json").encode_pair("hello", "aa"), (std::vector<std::uint32_t>{hello, aa}));
}

TEST(Tokenizer, UnusablePairTemplatesFailOnlyForPairs) {
  json doc = tiny_tokenizer_json(true);
  doc["post_processor"].erase("pair");
  const Tokenizer no_pair = Tokenizer::from_json(doc.dump(), "nopair.json");
  EXPECT_EQ(no_pair.encode("hello").size(), 2u);
  EXPECT_NE(error_of([&] { no_pair.encode_pair("hello", "aa"); }).find("no pair template"), std::string::npos);

  doc["post_processor"]["pair"] = json::array({piece("Sequence", "A"), piece("SpecialToken", "<missing>"),
                                               piece("Sequence", "B")});
  const Tokenizer missing = Tokenizer::from_json(doc.dump(), "missing.json");
  EXPECT_EQ(missing.encode("hello").size(), 2u);
  const std::string error = error_of([&] { missing.encode_pair("hello", "aa"); });
  EXPECT_NE(error.find("post_processor.pair[1]"), std::string::npos) << error;
  EXPECT_NE(error.find("<missing>"), std::string::npos) << error;
  // Without special tokens the missing token is never needed (HF encodes this pair too).
  EXPECT_EQ(missing.encode_pair("hello", "aa", false).size(), 2u);
  EXPECT_NE(error_of([&] { missing.encode_pair("hello", "\xFF"); }).find("pair text is not valid UTF-8"), std::string::npos);
}

// Sequence[TemplateProcessing, RobertaProcessing]: Roberta sees the template's entries as separate parts and
// wraps each one, for a single text exactly as for a pair (HF's process_encodings).
TEST(Tokenizer, ProcessorAfterATemplateSeesItsParts) {
  json doc = tiny_tokenizer_json(true);
  const json template_processor = doc["post_processor"];
  const std::uint32_t bos = template_processor["special_tokens"]["<s>"]["ids"][0];
  doc["post_processor"] = {{"type", "Sequence"},
                           {"processors", json::array({template_processor,
                                                       {{"type", "RobertaProcessing"},
                                                        {"cls", json::array({"<s>", bos})},
                                                        {"sep", json::array({"<|special|>", 264})}}})}};
  const Tokenizer tok = Tokenizer::from_json(doc.dump(), "seq.json");
  const auto hello = *tok.token_to_id("hello");
  // Parts after the template: [<s>], [hello]; Roberta: <s> <s> sep, then sep hello sep.
  EXPECT_EQ(tok.encode("hello"), (std::vector<std::uint32_t>{bos, bos, 264, 264, hello, 264}));
  EXPECT_EQ(tok.encode("hello", false), (std::vector<std::uint32_t>{hello}));
}

// The array scan and the heap merge must give identical results: random vocabularies and merge lists.
TEST(Bpe, ShortAndLongMergeStrategiesAgree) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 50; ++trial) {
    json vocab = json::object();
    std::vector<std::string> tokens = {"a", "b", "c", "d"};
    json merges = json::array();
    for (int i = 0; i < 4; ++i) vocab[tokens[i]] = i;
    for (int m = 0; m < 30; ++m) {
      const std::string left = tokens[rng() % tokens.size()], right = tokens[rng() % tokens.size()];
      if (left.size() + right.size() > 8 || vocab.contains(left + right)) continue;
      vocab[left + right] = static_cast<int>(tokens.size());
      tokens.push_back(left + right);
      merges.push_back(json::array({left, right}));
    }
    const auto model = BpeModel::from_json({{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}, JsonPath("m"));
    for (int word = 0; word < 40; ++word) {
      std::vector<std::uint32_t> symbols(1 + rng() % 60);
      for (auto& s : symbols) s = rng() % 4;
      std::vector<std::uint32_t> by_scan = symbols, by_heap = symbols;
      model->merge_short(by_scan);
      model->merge_long(by_heap);
      EXPECT_EQ(by_scan, by_heap) << "trial " << trial << " word " << word;
    }
  }
}

TEST(Bpe, ByteFallbackAndFusedUnknown) {
  json vocab = {{"<unk>", 0}, {"a", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}};
  const auto fallback = BpeModel::from_json(
      {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}, {"unk_token", "<unk>"}, {"byte_fallback", true},
       {"fuse_unk", true}},
      JsonPath("m"));
  std::vector<std::uint32_t> ids;
  fallback->tokenize("a\u00e9\u4e2d\u6587a", false, ids);  // é has byte tokens; 中文 has none → one fused <unk>
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{1, 2, 3, 0, 1}));
}

}  // namespace
}  // namespace fp4::tokenizer
