#include "fp4/runtime/served_model.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fp4/base/error.h"
#include "fp4/io/generation_config.h"

namespace fp4::runtime {
namespace {

std::optional<chat::ChatTemplate> load_chat_template(const std::filesystem::path& dir) {
  const std::filesystem::path config = dir / "tokenizer_config.json";
  if (!std::filesystem::exists(config)) return std::nullopt;
  // A config without a template (and no chat_template.jinja beside it) is a plain completion model.
  std::ifstream in(config);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::ordered_json parsed;
  try {
    parsed = nlohmann::ordered_json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", config.string(), e.what());
  }
  if (!parsed.contains("chat_template") && !std::filesystem::exists(dir / "chat_template.jinja")) return std::nullopt;
  return chat::ChatTemplate::from_tokenizer_config_file(config);
}

}  // namespace

std::unique_ptr<ServedModel> ServedModel::load(const std::string& dir, const EngineConfig& config, int threads,
                                               std::string served_name, Device device) {
  const std::filesystem::path path(dir);
  FP4_CHECK(std::filesystem::is_directory(path), "{}: not a model folder (expected config.json, weights and "
            "tokenizer.json)", dir);
  FP4_CHECK(threads >= 0, "serve: threads is {}, expected a count >= 0 (0: every core)", threads);
  auto m = std::make_unique<ServedModel>();
  m->dir = dir;
  if (served_name.empty()) {
    const std::filesystem::path clean = path.has_filename() ? path : path.parent_path();
    served_name = clean.filename().string();
  }
  m->name = std::move(served_name);
  m->pool = std::make_unique<ThreadPool>(threads);
  m->model = load_model(dir, *m->pool, device);
  FP4_CHECK(std::filesystem::exists(path / "tokenizer.json"), "{}: no tokenizer.json; serving needs the model's "
            "tokenizer", dir);
  m->tokenizer = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_directory(path));
  m->chat_template = load_chat_template(path);

  const io::GenerationConfig gen = io::load_generation_config(dir);
  m->defaults = sampling::model_defaults(gen);
  // End tokens: generation_config.json, else config.json, else the tokenizer's eos_token.
  const int64_t vocab = m->model->vocab_size();
  auto add_eos = [&](int64_t id, const char* source) {
    FP4_CHECK(id >= 0 && id < vocab, "{}/{}: eos_token_id {} is outside the vocabulary [0, {})", dir, source, id,
              vocab);
    m->eos_ids.push_back(static_cast<int32_t>(id));
  };
  for (int64_t id : gen.eos_token_ids) add_eos(id, "generation_config.json");
  if (m->eos_ids.empty()) {
    for (int64_t id : m->model->config().eos_token_ids) add_eos(id, "config.json");
  }
  if (m->eos_ids.empty() && m->tokenizer->config().eos_token) {
    if (auto id = m->tokenizer->token_to_id(*m->tokenizer->config().eos_token)) add_eos(*id, "tokenizer_config.json");
  }
  m->engine = std::make_unique<Engine>(*m->model, *m->tokenizer, m->eos_ids, config);
  return m;
}

std::vector<int32_t> ServedModel::encode_chat(const nlohmann::ordered_json& messages,
                                              const nlohmann::ordered_json& tools,
                                              const nlohmann::ordered_json& template_kwargs,
                                              std::string* rendered) const {
  FP4_CHECK(chat_template.has_value(), "{}: the model has no chat template (tokenizer_config.json has no "
            "chat_template and there is no chat_template.jinja); use /v1/completions", dir);
  const nlohmann::ordered_json extra = template_kwargs.is_null() ? nlohmann::ordered_json::object() : template_kwargs;
  FP4_CHECK(extra.is_object(), "chat_template_kwargs must be an object");
  std::string text = chat_template->render(messages, tools, /*add_generation_prompt=*/true, extra);
  std::vector<int32_t> ids;
  for (uint32_t id : tokenizer->encode(text, /*add_special_tokens=*/false)) ids.push_back(static_cast<int32_t>(id));
  if (rendered) *rendered = std::move(text);
  return ids;
}

std::vector<int32_t> ServedModel::encode_prompt(const std::string& prompt) const {
  std::vector<int32_t> ids;
  for (uint32_t id : tokenizer->encode(prompt, /*add_special_tokens=*/true)) ids.push_back(static_cast<int32_t>(id));
  return ids;
}

}  // namespace fp4::runtime
