#include "fp4/quant/calibration.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/chat/chat_template.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/model/model.h"
#include "fp4/runtime/kv_cache.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::quant {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// "<prefix>.experts.<e>.<proj>" → ("<prefix>", "<proj>"); nullopt for any other module.
std::optional<std::pair<std::string, std::string>> split_expert(const std::string& module) {
  const size_t at = module.find(".experts.");
  if (at == std::string::npos) return std::nullopt;
  const size_t id0 = at + 9;
  const size_t dot = module.find('.', id0);
  if (dot == std::string::npos || dot == id0) return std::nullopt;
  for (size_t i = id0; i < dot; ++i) {
    if (module[i] < '0' || module[i] > '9') return std::nullopt;
  }
  return std::make_pair(module.substr(0, at), module.substr(dot + 1));
}

std::vector<std::string> linear_modules(const std::string& model_dir) {
  const io::HfCheckpoint ckpt = io::HfCheckpoint::open(model_dir, io::HfCheckpoint::Mode::kMapped);
  std::vector<std::string> modules;
  for (const std::string& name : ckpt.names()) {
    constexpr std::string_view kSuffix = ".weight";
    if (name.size() > kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      modules.push_back(name.substr(0, name.size() - kSuffix.size()));
    }
  }
  return modules;
}

}  // namespace

int64_t fill_unrouted_experts(const std::vector<std::string>& modules, std::map<std::string, float>& amax) {
  std::map<std::pair<std::string, std::string>, float> group_max;  // (prefix, proj) → max over observed
  for (const std::string& m : modules) {
    const auto key = split_expert(m);
    const auto it = amax.find(m);
    if (!key || it == amax.end()) continue;
    float& g = group_max[*key];
    g = std::max(g, it->second);
  }
  int64_t filled = 0;
  for (const std::string& m : modules) {
    const auto key = split_expert(m);
    if (!key || amax.count(m) != 0) continue;
    const auto g = group_max.find(*key);
    if (g == group_max.end()) continue;  // no expert of this layer saw a token: the default applies
    amax[m] = g->second;
    ++filled;
  }
  return filled;
}

std::vector<std::vector<int32_t>> read_calibration_samples(const std::string& model_dir,
                                                           const CalibrationOptions& options) {
  std::ifstream in(options.file, std::ios::binary);
  FP4_CHECK(in.good(), "calibration: cannot open {}", options.file);
  FP4_CHECK(options.max_tokens > 0, "calibration: max_tokens {} must be positive", options.max_tokens);
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_directory(model_dir);
  std::optional<chat::ChatTemplate> templ;
  auto chat = [&]() -> const chat::ChatTemplate& {
    if (!templ) {
      const fs::path cfg = fs::path(model_dir) / "tokenizer_config.json";
      FP4_CHECK(fs::exists(cfg), "calibration: {} asks for the chat template but {} does not exist", options.file,
                cfg.string());
      templ = chat::ChatTemplate::from_tokenizer_config_file(cfg);
    }
    return *templ;
  };
  std::vector<std::vector<int32_t>> samples;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (options.max_samples > 0 && static_cast<int64_t>(samples.size()) >= options.max_samples) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ojson j = ojson::parse(line, nullptr, /*allow_exceptions=*/false);
    FP4_CHECK(j.is_object(), "calibration: {}:{}: expected a JSON object with \"text\" or \"messages\"",
              options.file, line_no);
    std::vector<uint32_t> ids;
    if (j.contains("messages")) {
      FP4_CHECK(j["messages"].is_array() && !j["messages"].empty(),
                "calibration: {}:{}: \"messages\" must be a non-empty array", options.file, line_no);
      for (const auto& m : j["messages"]) {
        FP4_CHECK(m.is_object() && m.contains("role") && m["role"].is_string(),
                  "calibration: {}:{}: every message needs a string \"role\"", options.file, line_no);
      }
      const std::string prompt = chat().render(j["messages"], ojson(), true, ojson::object());
      ids = tok.encode(prompt, /*add_special_tokens=*/false);  // the template writes BOS itself
    } else {
      FP4_CHECK(j.contains("text") && j["text"].is_string(),
                "calibration: {}:{}: expected a string field \"text\" or an array \"messages\"", options.file,
                line_no);
      const std::string text = j["text"].get<std::string>();
      if (options.chat_template_text) {
        const ojson messages = ojson::array({ojson{{"role", "user"}, {"content", text}}});
        ids = tok.encode(chat().render(messages, ojson(), true, ojson::object()), false);
      } else {
        ids = tok.encode(text, /*add_special_tokens=*/true);
      }
    }
    if (ids.empty()) continue;
    if (static_cast<int64_t>(ids.size()) > options.max_tokens) ids.resize(static_cast<size_t>(options.max_tokens));
    samples.emplace_back(ids.begin(), ids.end());
  }
  FP4_CHECK(!samples.empty(), "calibration: {} holds no sample (one JSON object per line)", options.file);
  return samples;
}

CalibrationResult calibrate(const std::string& model_dir, const CalibrationOptions& options,
                            const std::function<void(int64_t done, int64_t total)>& on_sample) {
  const std::vector<std::vector<int32_t>> samples = read_calibration_samples(model_dir, options);
  ThreadPool pool(options.threads);
  const std::unique_ptr<model::Model> model = model::Model::load(model_dir, pool);
  const int64_t limit = model->config().max_position_embeddings;

  CalibrationResult result;
  std::mutex mu;
  const model::LinearInputObserver observe = [&](const std::string& module, const float* x, int64_t M, int64_t K) {
    float a = 0.0f;
    for (int64_t i = 0; i < M * K; ++i) a = std::max(a, std::fabs(x[i]));  // NaN never wins std::max
    const std::lock_guard<std::mutex> lock(mu);
    float& slot = result.amax[module];
    slot = std::max(slot, a);
  };
  model::ForwardOptions forward;
  forward.observe_linear_inputs = &observe;

  int64_t longest = 1;
  for (const auto& s : samples) longest = std::max<int64_t>(longest, static_cast<int64_t>(s.size()));
  if (limit > 0) longest = std::min(longest, limit);
  runtime::KvCache cache = runtime::KvCache::for_model(*model, longest);
  std::vector<float> logits(static_cast<size_t>(model->vocab_size()));  // [1, vocab], unused
  for (const auto& sample : samples) {
    std::span<const int32_t> tokens(sample);
    if (limit > 0 && static_cast<int64_t>(tokens.size()) > limit) tokens = tokens.first(static_cast<size_t>(limit));
    runtime::SequenceKv seq(cache);
    seq.reserve(static_cast<int64_t>(tokens.size()));
    model->forward(tokens, 0, seq.view(), forward, logits.data());
    ++result.samples;
    result.tokens += static_cast<int64_t>(tokens.size());
    if (on_sample) on_sample(result.samples, static_cast<int64_t>(samples.size()));
  }
  result.filled_experts = fill_unrouted_experts(linear_modules(model_dir), result.amax);
  return result;
}

}  // namespace fp4::quant
