// Drives the tokenizer from Python tests and benchmarks: one process handles a whole corpus.
//
//   tokenize_tool encode TOKENIZER_JSON   stdin: JSON lines {"text": s} or {"hex": bytes-as-hex},
//                                         optional "add_special_tokens" (default true) and "pair": a
//                                         second text, encoded with it as a pair (Tokenizer::encode_pair).
//                                         stdout: {"ids": [...], "decoded": s, "decoded_skip_special": s}
//                                         or {"error": message}
//   tokenize_tool decode TOKENIZER_JSON   stdin: {"ids": [...]}; stdout: {"text": s, "stream": [piece, ...],
//                                         "stream_text": s} (stream: what the streaming detokenizer emitted)
//   tokenize_tool normalize NFC|NFD|NFKC|NFKD|lowercase   stdin: {"text": s}; stdout: {"text": normalized}
//   tokenize_tool batch TOKENIZER_JSON THREADS   stdin: JSON lines {"text": s}; stdout: {"ids": [...]} per
//                                         line, all encoded with encode_batch on THREADS threads
//   tokenize_tool bench TOKENIZER_JSON CORPUS_JSON REPEATS   CORPUS_JSON is a list of strings; encodes them
//                                         one by one on this thread REPEATS times (after one warm-up pass) and
//                                         prints {"bytes": n, "seconds": t, "tokens": k} for the timed passes.
// TOKENIZER_JSON may also be a folder, which is then loaded with its tokenizer_config.json.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/tokenizer/tokenizer.h"
#include "fp4/tokenizer/unicode.h"
#include "fp4/tokenizer/utf8.h"

namespace {

using fp4::tokenizer::Tokenizer;
using Json = nlohmann::json;

Tokenizer load(const std::string& path) {
  return std::filesystem::is_directory(path) ? Tokenizer::from_directory(path) : Tokenizer::from_file(path);
}

std::string from_hex(const std::string& hex) {
  if (hex.size() % 2 != 0) fp4::fail("hex field has an odd number of digits");
  std::string bytes;
  for (std::size_t i = 0; i < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return bytes;
}

void emit(const Json& value) {
  // Decoded text can hold U+FFFD but is always valid UTF-8, so dump never throws here.
  std::cout << value.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
}

int run_encode(const Tokenizer& tokenizer) {
  std::string line;
  while (std::getline(std::cin, line)) {
    try {
      const Json request = Json::parse(line);
      const std::string text = request.contains("hex") ? from_hex(request["hex"].get<std::string>())
                                                       : request.at("text").get<std::string>();
      const bool add_special = request.value("add_special_tokens", true);
      const std::vector<std::uint32_t> ids =
          request.contains("pair") ? tokenizer.encode_pair(text, request["pair"].get<std::string>(), add_special)
                                   : tokenizer.encode(text, add_special);
      emit({{"ids", ids}, {"decoded", tokenizer.decode(ids, false)}, {"decoded_skip_special", tokenizer.decode(ids, true)}});
    } catch (const std::exception& e) {
      emit({{"error", e.what()}});
    }
  }
  return 0;
}

int run_decode(const Tokenizer& tokenizer) {
  std::string line;
  while (std::getline(std::cin, line)) {
    try {
      const Json request = Json::parse(line);
      const auto ids = request.at("ids").get<std::vector<std::uint32_t>>();
      const bool skip = request.value("skip_special_tokens", false);
      fp4::tokenizer::StreamDecoder stream(tokenizer, skip);
      std::vector<std::string> pieces;
      std::string joined;
      for (std::uint32_t id : ids) {
        pieces.push_back(stream.step(id));
        joined += pieces.back();
      }
      pieces.push_back(stream.flush());
      joined += pieces.back();
      emit({{"text", tokenizer.decode(ids, skip)}, {"stream", pieces}, {"stream_text", joined}});
    } catch (const std::exception& e) {
      emit({{"error", e.what()}});
    }
  }
  return 0;
}

// Applies one normal form (NFC, NFD, NFKC, NFKD) or "lowercase" to each {"text": s}.
int run_normalize(const std::string& form_name) {
  using fp4::tokenizer::NormalForm;
  std::string line;
  while (std::getline(std::cin, line)) {
    const std::string text = Json::parse(line).at("text").get<std::string>();
    std::string out;
    if (form_name == "lowercase") {
      out = fp4::tokenizer::to_lowercase(text);
    } else {
      const NormalForm form = form_name == "NFC" ? NormalForm::kNfc : form_name == "NFD" ? NormalForm::kNfd
                              : form_name == "NFKC" ? NormalForm::kNfkc : NormalForm::kNfkd;
      out = fp4::tokenizer::normalize_unicode(text, form);
    }
    emit({{"text", out}});
  }
  return 0;
}

int run_batch(const Tokenizer& tokenizer, unsigned threads) {
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(std::cin, line)) texts.push_back(Json::parse(line).at("text").get<std::string>());
  const auto results = tokenizer.encode_batch(texts, true, threads);
  for (const auto& ids : results) emit({{"ids", ids}});
  return 0;
}

int run_bench(const Tokenizer& tokenizer, const std::string& corpus_path, int repeats) {
  std::ifstream in(corpus_path, std::ios::binary);
  if (!in) fp4::fail("{}: cannot open", corpus_path);
  const Json corpus = Json::parse(in);
  std::vector<std::string> texts = corpus.get<std::vector<std::string>>();
  std::size_t bytes = 0, tokens = 0;
  for (const auto& t : texts) tokenizer.encode(t, false);  // warm-up pass (fills the word cache), untimed
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeats; ++r) {
    for (const auto& t : texts) {
      bytes += t.size();
      tokens += tokenizer.encode(t, false).size();
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  emit({{"bytes", bytes}, {"seconds", seconds}, {"tokens", tokens}});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  if (argc < 3) {
    std::fprintf(stderr, "usage: tokenize_tool encode|decode|batch|bench TOKENIZER_JSON [args]\n");
    return 2;
  }
  try {
    const std::string mode = argv[1];
    if (mode == "normalize") return run_normalize(argv[2]);
    const Tokenizer tokenizer = load(argv[2]);
    if (mode == "encode") return run_encode(tokenizer);
    if (mode == "decode") return run_decode(tokenizer);
    if (mode == "batch" && argc >= 4) return run_batch(tokenizer, static_cast<unsigned>(std::stoul(argv[3])));
    if (mode == "bench" && argc >= 5) return run_bench(tokenizer, argv[3], std::stoi(argv[4]));
    std::fprintf(stderr, "tokenize_tool: unknown mode or missing arguments\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenize_tool: error: %s\n", e.what());
    return 1;
  }
}
