// `fp4serve generate -m DIR --prompt-ids 1,2,3 --max-tokens N`: runs one sequence (prefill, then
// decode) and prints the generated token ids with prefill and decode speed.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <charconv>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "fp4/base/error.h"
#include "fp4/chat/chat_template.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/generation_config.h"
#include "fp4/io/safetensors.h"
#include "fp4/model/model.h"
#include "fp4/ops/matmul.h"
#include "fp4/runtime/generate.h"
#include "fp4/runtime/load_model.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::cli {
namespace {

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i <= text.size()) {
    const size_t comma = std::min(text.find(',', i), text.size());
    const std::string_view part(text.data() + i, comma - i);
    int32_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    FP4_CHECK(!part.empty() && ec == std::errc() && end == part.data() + part.size(),
              "--prompt-ids: '{}' is not a token id (expected comma-separated integers)", part);
    ids.push_back(v);
    i = comma + 1;
  }
  return ids;
}

// Collects named intermediates of every forward pass for --dump-tensors ("step0.layer.3.out", ...).
struct TensorDump {
  std::vector<io::TensorData> tensors;
  int64_t step = 0;

  void add(std::string_view name, std::span<const int64_t> shape, const float* data) {
    io::TensorData t;
    t.spec.name = fmt::format("step{}.{}", step, name);
    t.spec.dtype = DType::kF32;
    t.spec.shape.assign(shape.begin(), shape.end());
    const size_t bytes = static_cast<size_t>(t.spec.nbytes());
    t.bytes.resize(bytes);
    std::memcpy(t.bytes.data(), data, bytes);
    tensors.push_back(std::move(t));
    if (name == "logits") ++step;  // the last intermediate of a forward pass
  }
};

// The chat prompt for one user message (and an optional system message), ending with the assistant's
// generation prompt, rendered by the model folder's tokenizer_config.json chat template.
std::string render_user_turn(const std::string& model_dir, const std::string& system, const std::string& user) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", user}});
  const auto chat_template =
      chat::ChatTemplate::from_tokenizer_config_file(std::filesystem::path(model_dir) / "tokenizer_config.json");
  return chat_template.render(messages, nlohmann::ordered_json(), /*add_generation_prompt=*/true,
                              nlohmann::ordered_json::object());
}

struct GenerateArgs {
  std::string model_dir;
  std::string prompt_ids;
  std::string prompt_text;
  bool chat = false;
  std::string system_prompt;
  int64_t max_tokens = 32;
  double temperature = 0.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  std::optional<int64_t> seed;
  int threads = 0;
  bool ignore_eos = false;
  bool exact = false;
  std::string nvfp4_activations = "f32";
  std::string mla_form = "auto";
  std::string dump_path;
  std::string device = "cpu";
};

int run_generate(const GenerateArgs& a) {
  // A text prompt goes through the model's own tokenizer.json (special tokens added as it says).
  std::optional<tokenizer::Tokenizer> tok;
  std::vector<int32_t> prompt;
  FP4_CHECK(!a.prompt_text.empty() || !a.prompt_ids.empty(), "generate: give the prompt as --prompt-ids or -p TEXT");
  FP4_CHECK(!a.chat || !a.prompt_text.empty(), "generate: --chat needs the user message as -p TEXT");
  if (!a.prompt_text.empty()) {
    tok = tokenizer::Tokenizer::from_directory(a.model_dir);
    // With --chat the text is one user turn rendered by the model's chat template with the generation
    // prompt; the template writes the special tokens itself, so none are added on encode (as
    // transformers' apply_chat_template(tokenize=True) does).
    const std::string text = a.chat ? render_user_turn(a.model_dir, a.system_prompt, a.prompt_text) : a.prompt_text;
    for (uint32_t id : tok->encode(text, /*add_special_tokens=*/!a.chat)) prompt.push_back(static_cast<int32_t>(id));
  } else {
    prompt = parse_ids(a.prompt_ids);
  }
  ThreadPool pool(a.threads);
  std::unique_ptr<model::Model> m = runtime::load_model(a.model_dir, pool, runtime::parse_device(a.device));
  std::fprintf(stderr, "model: %s\n", m->describe().c_str());

  runtime::GenerateOptions opt;
  opt.max_tokens = a.max_tokens;
  opt.sampling.temperature = a.temperature;
  opt.sampling.top_p = a.top_p;
  opt.sampling.top_k = a.top_k;
  opt.sampling.seed = a.seed;
  opt.sampling.ignore_eos = a.ignore_eos;
  opt.forward.exact_matmul = a.exact;
  opt.forward.nvfp4_activations =
      a.nvfp4_activations == "int8" ? cpu::ActivationPrecision::kInt8 : cpu::ActivationPrecision::kF32;
  opt.forward.mla_form = a.mla_form == "expanded"   ? model::MlaForm::kExpanded
                         : a.mla_form == "absorbed" ? model::MlaForm::kAbsorbed
                                                    : model::MlaForm::kAuto;
  const io::GenerationConfig gen = io::load_generation_config(a.model_dir);
  for (int64_t id : gen.eos_token_ids) opt.stop_tokens.push_back(static_cast<int32_t>(id));
  for (int64_t id : m->config().eos_token_ids) opt.stop_tokens.push_back(static_cast<int32_t>(id));
  TensorDump dump;
  model::TensorDumpFn dump_fn = [&dump](std::string_view n, std::span<const int64_t> s, const float* d) {
    dump.add(n, s, d);
  };
  if (!a.dump_path.empty()) opt.forward.dump = &dump_fn;

  const runtime::GenerateResult r = runtime::generate(*m, prompt, opt);
  if (tok) {
    const std::vector<uint32_t> ids(r.tokens.begin(), r.tokens.end());
    std::printf("%s\n", tok->decode(ids).c_str());
  } else {
    std::printf("%s\n", fmt::format("{}", fmt::join(r.tokens, ",")).c_str());
  }
  std::fprintf(stderr, "prefill: %lld tokens in %.4f s (%.1f tokens/s)\n", static_cast<long long>(r.prompt_tokens),
               r.prefill_seconds, r.prefill_tokens_per_second());
  std::fprintf(stderr, "decode: %zu tokens in %.4f s (%.2f tokens/s)%s\n", r.tokens.size() - 1, r.decode_seconds,
               r.decode_tokens_per_second(), r.stopped ? ", stopped on an end token" : "");
  std::fprintf(stderr, "threads: %d, weights: %.1f MB, KV cache: %.1f MB\n", pool.size(),
               static_cast<double>(m->weight_bytes()) / 1e6, static_cast<double>(r.kv_cache_bytes) / 1e6);
  if (!a.dump_path.empty()) {
    io::write_safetensors_file(a.dump_path, dump.tensors);
    std::fprintf(stderr, "dumped %zu tensors to %s\n", dump.tensors.size(), a.dump_path.c_str());
  }
  return 0;
}

const Command kGenerate{
    "generate", "Generate tokens for one prompt (greedy or sampled) and report prefill/decode speed",
    [](CLI::App& sub) -> Runner {
      auto a = std::make_shared<GenerateArgs>();
      sub.add_option("-m,--model", a->model_dir, "Hugging Face model folder")->required()->check(CLI::ExistingDirectory);
      auto* ids = sub.add_option("--prompt-ids", a->prompt_ids, "Prompt as comma-separated token ids, e.g. 1,2,3");
      auto* text = sub.add_option("-p,--prompt", a->prompt_text, "Prompt text (uses the model's tokenizer.json)");
      ids->excludes(text);
      sub.add_flag("--chat", a->chat, "Send -p TEXT as a user message through the model's chat template");
      sub.add_option("--system", a->system_prompt, "With --chat: a system message before the user message");
      sub.add_option("--max-tokens", a->max_tokens, "Tokens to generate")->check(CLI::PositiveNumber);
      sub.add_option("--temperature", a->temperature, "0 = greedy (default)")->check(CLI::NonNegativeNumber);
      sub.add_option("--top-p", a->top_p, "Nucleus sampling mass in (0, 1]");
      sub.add_option("--top-k", a->top_k, "Sample among the k most likely tokens (0 = all)")->check(CLI::NonNegativeNumber);
      sub.add_option("--seed", a->seed, "Sampling seed (default: a fresh one)");
      sub.add_option("--threads", a->threads, "Worker threads (0 = one per core)")->check(CLI::NonNegativeNumber);
      sub.add_option("--device", a->device, "Where the model runs: cpu (default) or cuda (the whole forward pass on GPU 0)")
          ->check(CLI::IsMember({"cpu", "cuda"}));
      sub.add_flag("--ignore-eos", a->ignore_eos, "Do not stop at the model's end tokens");
      sub.add_flag("--exact", a->exact, "Scalar reference matmul with f32 activations (slow; for comparisons)");
      sub.add_option("--nvfp4-activations", a->nvfp4_activations,
                     "NVFP4 linears: f32 (default; matches f32 frameworks) or int8 (W4A8 dot products)")
          ->check(CLI::IsMember({"f32", "int8"}));
      sub.add_option("--mla-form", a->mla_form, "DeepSeek attention: auto, expanded or absorbed")
          ->check(CLI::IsMember({"auto", "expanded", "absorbed"}));
      sub.add_option("--dump-tensors", a->dump_path, "Write every named intermediate to this .safetensors file");
      return [a] { return run_generate(*a); };
    }};

}  // namespace
}  // namespace fp4::cli
