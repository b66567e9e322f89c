// ServedModel::load: the pieces of a model folder and the errors for missing ones; prompt encoding.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include "fp4/base/error.h"
#include "fp4/runtime/served_model.h"
#include "unit/runtime/test_engine_fixture.h"

namespace fp4::runtime {
namespace {

namespace fs = std::filesystem;
using test::EngineTest;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(EngineTest, LoadedFolderHasDefaultsEosAndTemplate) {
  const ServedModel& m = served();
  EXPECT_EQ(m.name, "tiny-r1");
  EXPECT_EQ(m.eos_ids, std::vector<int32_t>{1});  // generation_config.json
  EXPECT_DOUBLE_EQ(m.defaults.temperature, 0.6);  // generation_config.json over the built-in 1.0
  EXPECT_DOUBLE_EQ(m.defaults.top_p, 0.95);
  ASSERT_TRUE(m.chat_template.has_value());
  EXPECT_EQ(m.engine->max_model_len(), 2048);
  // A raw prompt gets the tokenizer's BOS; a chat prompt gets the one the template writes, once.
  const auto raw = m.encode_prompt("1 + 1 = ");
  ASSERT_FALSE(raw.empty());
  EXPECT_EQ(raw[0], 0);
  std::string rendered;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  messages.push_back({{"role", "user"}, {"content", "Hi"}});
  const auto chat = m.encode_chat(messages, nullptr, nullptr, &rendered);
  ASSERT_GE(chat.size(), 2u);
  EXPECT_EQ(chat[0], 0);
  EXPECT_NE(chat[1], 0);
  EXPECT_EQ(rendered.rfind("<think>\n"), rendered.size() - 8);  // R1's template opens the block
  EXPECT_NE(error_of([&] { m.encode_chat(messages, nullptr, nlohmann::ordered_json::array()); }).find(
                "chat_template_kwargs"),
            std::string::npos);
}

TEST(ServedModelLoad, MissingPiecesAreNamed) {
  const fs::path tmp = fs::temp_directory_path() / ("fp4_served_model_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  EngineConfig c;
  c.kv_cache_tokens = 2048;
  EXPECT_NE(error_of([&] { ServedModel::load((tmp / "absent").string(), c, 1); }).find("not a model folder"),
            std::string::npos);
  const fs::path src = test::tiny_r1_dir();
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json"}) fs::copy(src / f, tmp / f);
  EXPECT_NE(error_of([&] { ServedModel::load(tmp.string(), c, 1); }).find("tokenizer.json"), std::string::npos);

  // A tokenizer config without a chat template: the model serves completions, chat is a named error.
  fs::copy(src / "tokenizer.json", tmp / "tokenizer.json");
  {
    std::ifstream in(src / "tokenizer_config.json");
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(in);
    config.erase("chat_template");
    std::ofstream(tmp / "tokenizer_config.json") << config.dump();
  }
  auto m = ServedModel::load(tmp.string(), c, 1, "served-name");
  EXPECT_EQ(m->name, "served-name");
  EXPECT_FALSE(m->chat_template.has_value());
  EXPECT_NE(error_of([&] { m->encode_chat(nlohmann::ordered_json::array(), nullptr, nullptr); }).find("no chat template"),
            std::string::npos);
  EngineRequest req;
  req.prompt = m->encode_prompt("2 + 2 = ");
  req.params = m->defaults;
  req.params.max_tokens = 4;
  req.params.seed = 1;
  EXPECT_EQ(run_to_completion(*m->engine, req).completions[0].tokens.size(), 4u);
  m.reset();
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace fp4::runtime
