// The command-line options shared by `fp4serve math`, `code` and `tutor`: where the model runs
// (-m DIR in process, or --url of a running server), the sampling flags, and the output form.
// Header-only and included only by src/cli (which links CLI11); the library itself does not use CLI11.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "fp4/apps/app_routes.h"
#include "fp4/apps/generator_factory.h"

namespace fp4::apps {

struct AppCliOptions {
  std::string model_dir;
  std::string url;
  std::string api_key;
  std::string served_model;
  int threads = 0;
  int64_t max_model_len = 0;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<int64_t> max_tokens;
  std::optional<int64_t> max_reasoning_tokens;
  std::optional<int64_t> seed;
  std::string language = "auto";
  bool json = false;
  bool show_reasoning = false;

  // language_flag: the option that picks the prompt language ("--language", or "--prompt-language" where
  // --language means something else).
  void add_to(CLI::App& app, const std::string& language_flag = "--language") {
    auto* model = app.add_option("-m,--model", model_dir, "Model folder to run in process")->check(CLI::ExistingDirectory);
    auto* server = app.add_option("--url", url, "OpenAI-compatible server to use instead, e.g. http://127.0.0.1:8000");
    model->excludes(server);
    app.add_option("--api-key", api_key, "With --url: Bearer key for the server");
    app.add_option("--served-model-name", served_model,
                   "With --url: the model to request (default: the server's first); in process: its reported name");
    app.add_option("--threads", threads, "In process: worker threads (0 = one per core)")->check(CLI::NonNegativeNumber);
    app.add_option("--max-model-len", max_model_len, "In process: context length (0 = the model's)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--temperature", temperature, "Sampling temperature (0 = greedy; default: the model's)");
    app.add_option("--top-p", top_p, "Nucleus sampling mass in (0, 1]");
    app.add_option("--top-k", top_k, "Sample among the k most likely tokens (0 = all)");
    app.add_option("--max-tokens", max_tokens, "Most tokens to generate, reasoning included");
    app.add_option("--max-reasoning-tokens", max_reasoning_tokens, "Thinking budget in tokens");
    app.add_option("--seed", seed, "Sampling seed");
    app.add_option(language_flag, language, "Prompt language: auto (Korean when the input has Hangul), en or ko");
    app.add_flag("--json", json, "Print the JSON document the HTTP endpoint returns");
    app.add_flag("--show-reasoning", show_reasoning, "Also print the model's reasoning");
  }

  // Adds the sampling fields that were given to an app request body.
  void add_sampling(nlohmann::json& body) const {
    auto put = [&body](const char* name, const auto& value) {
      if (value) body[name] = *value;
    };
    put("temperature", temperature);
    put("top_p", top_p);
    put("top_k", top_k);
    put("max_tokens", max_tokens);
    put("max_reasoning_tokens", max_reasoning_tokens);
    put("seed", seed);
  }

  std::unique_ptr<TextGenerator> open() const {
    GeneratorSource source;
    source.model_dir = model_dir;
    source.url = url;
    source.api_key = api_key;
    source.served_model = served_model;
    source.threads = threads;
    source.engine.max_num_seqs = 1;  // one request at a time: KV memory for one context
    source.engine.max_model_len = max_model_len;
    return open_generator(source);
  }

  // Runs the app endpoint `path` on `body` and prints the JSON document when --json was given.
  // Returns the document for the caller's text output.
  nlohmann::json run(std::string_view path, nlohmann::json body) const {
    add_sampling(body);
    std::unique_ptr<TextGenerator> generator = open();
    nlohmann::json out = *handle_app_request(path, body, *generator);
    if (json) std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return out;
  }

  // Says on stderr when the answer text (`field`) is empty, e.g. a generation that ended while reasoning.
  static void note_empty_answer(const nlohmann::json& out, const char* field) {
    if (!out.value(field, std::string()).empty()) return;
    std::fprintf(stderr, "the model's answer is empty (finish reason: %s); --show-reasoning prints its reasoning\n",
                 out.value("finish_reason", std::string()).c_str());
  }

  // The reasoning block, when asked for and present, before the text output.
  void print_reasoning(const nlohmann::json& out) const {
    if (!show_reasoning || json) return;
    std::string reasoning = out.value("reasoning", std::string());
    while (!reasoning.empty() && (reasoning.back() == '\n' || reasoning.back() == ' ')) reasoning.pop_back();
    if (!reasoning.empty()) std::printf("<think>\n%s\n</think>\n\n", reasoning.c_str());
  }
};

}  // namespace fp4::apps
