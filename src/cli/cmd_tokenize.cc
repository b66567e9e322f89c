// `fp4serve tokenize -m DIR TEXT`: shows what the model sees — the token ids and tokens of a text, or of a
// chat rendered with the model's chat template (`--chat messages.json`). `--jsonl` turns it into a batch
// tool: JSON lines {"text": ...} on stdin, {"ids": [...], "tokens": [...]} on stdout, one process for a
// whole corpus.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "fp4/base/error.h"
#include "fp4/chat/chat_template.h"
#include "fp4/tokenizer/tokenizer.h"
#include "fp4/tokenizer/utf8.h"

namespace fp4::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

struct TokenizeOptions {
  std::string model_dir;
  std::string text;
  std::string file;
  std::string chat_file;
  bool no_special = false;
  bool jsonl = false;
  bool replace_invalid = false;
  bool no_generation_prompt = false;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open file", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string checked_text(std::string bytes, bool replace_invalid, std::string_view origin) {
  const std::size_t bad = tokenizer::find_invalid_utf8(bytes);
  if (bad == std::string_view::npos) return bytes;
  if (replace_invalid) return tokenizer::to_valid_utf8(bytes);
  fail("{}: not valid UTF-8 at byte {} (pass --replace-invalid to substitute U+FFFD)", origin, bad);
}

// Renders the chat with the model's template. The file holds a list of messages, or an object with
// "messages" and optionally "tools", "add_generation_prompt" and extra template variables.
std::string render_chat(const TokenizeOptions& options) {
  const fs::path config = fs::path(options.model_dir) / "tokenizer_config.json";
  const chat::ChatTemplate chat_template = chat::ChatTemplate::from_tokenizer_config_file(config);
  ordered_json request;
  try {
    request = ordered_json::parse(read_bytes(options.chat_file));
  } catch (const ordered_json::parse_error& e) {
    fail("{}: malformed JSON: {}", options.chat_file, e.what());
  }
  ordered_json messages = request, tools = nullptr, extra = ordered_json::object();
  bool add_generation_prompt = !options.no_generation_prompt;
  if (request.is_object()) {
    if (!request.contains("messages")) fail("{}: expected a list of messages or an object with \"messages\"", options.chat_file);
    messages = request["messages"];
    for (auto it = request.begin(); it != request.end(); ++it) {
      if (it.key() == "messages") continue;
      if (it.key() == "tools") {
        tools = it.value();
      } else if (it.key() == "add_generation_prompt" && it.value().is_boolean()) {
        add_generation_prompt = it.value().get<bool>();
      } else {
        extra[it.key()] = it.value();
      }
    }
  }
  if (!messages.is_array()) fail("{}: \"messages\" must be a list", options.chat_file);
  return chat_template.render(messages, tools, add_generation_prompt, extra);
}

int run_jsonl(const tokenizer::Tokenizer& tok, const TokenizeOptions& options) {
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    json answer;
    try {
      const json request = json::parse(line);
      const std::string text = checked_text(request.at("text").get<std::string>(), options.replace_invalid,
                                            fmt::format("stdin line {}", line_number));
      const bool add_special = request.value("add_special_tokens", !options.no_special);
      const std::vector<std::uint32_t> ids = tok.encode(text, add_special);
      std::vector<std::string> tokens;
      for (std::uint32_t id : ids) tokens.push_back(tok.id_to_token(id).value_or(""));
      answer = {{"ids", ids}, {"tokens", tokens}};
    } catch (const std::exception& e) {
      answer = {{"error", fmt::format("line {}: {}", line_number, e.what())}};
    }
    std::cout << answer.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  }
  return 0;
}

int run_tokenize(const TokenizeOptions& options) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_directory(options.model_dir);
  if (options.jsonl) return run_jsonl(tok, options);

  std::string text;
  bool add_special = !options.no_special;
  const int sources = !options.text.empty() + !options.file.empty() + !options.chat_file.empty();
  if (sources != 1) fail("give exactly one of TEXT, --file or --chat (or --jsonl for a batch on stdin)");
  if (!options.chat_file.empty()) {
    text = render_chat(options);
    add_special = false;  // the template writes its special tokens itself, as apply_chat_template does
    std::printf("prompt: %s\n", json(text).dump().c_str());
  } else if (!options.file.empty()) {
    text = checked_text(read_bytes(options.file), options.replace_invalid, options.file);
  } else {
    text = checked_text(options.text, options.replace_invalid, "TEXT");
  }

  const std::vector<std::uint32_t> ids = tok.encode(text, add_special);
  std::printf("%zu tokens\nids: %s\n", ids.size(), json(ids).dump().c_str());
  std::printf("%6s  %8s  %-24s  %s\n", "index", "id", "token", "text");
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::uint32_t id = ids[i];
    const std::string token = tok.id_to_token(id).value_or("");
    const std::string piece = tok.decode(std::span<const std::uint32_t>(&ids[i], 1), false);
    std::printf("%6zu  %8u  %-24s  %s%s\n", i, id, json(token).dump(-1, ' ', false, json::error_handler_t::replace).c_str(),
                json(piece).dump(-1, ' ', false, json::error_handler_t::replace).c_str(), tok.is_special_id(id) ? "  (special)" : "");
  }
  return 0;
}

const Command kTokenize{
    "tokenize", "Show the token ids and tokens of a text or of a templated chat", [](CLI::App& sub) -> Runner {
      auto options = std::make_shared<TokenizeOptions>();
      sub.add_option("-m,--model", options->model_dir, "Model folder with tokenizer.json (and tokenizer_config.json)")
          ->required();
      sub.add_option("text", options->text, "Text to tokenize");
      sub.add_option("--file", options->file, "Tokenize the contents of this file instead");
      sub.add_option("--chat", options->chat_file,
                     "Render this messages.json with the model's chat template, then tokenize the prompt");
      sub.add_flag("--no-special", options->no_special, "Do not add the special tokens the tokenizer adds around a text");
      sub.add_flag("--no-generation-prompt", options->no_generation_prompt,
                   "With --chat: render without add_generation_prompt");
      sub.add_flag("--replace-invalid", options->replace_invalid,
                   "Replace invalid UTF-8 with U+FFFD instead of failing");
      sub.add_flag("--jsonl", options->jsonl, "Batch mode: JSON lines {\"text\": ...} on stdin, ids and tokens on stdout");
      return [options] { return run_tokenize(*options); };
    }};

}  // namespace
}  // namespace fp4::cli
