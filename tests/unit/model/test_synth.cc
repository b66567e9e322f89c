// Synthetic checkpoints load through the normal loader in every encoding, run, and do not depend on
// the thread count.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fp4/base/error.h"
#include "fp4/model/model.h"
#include "fp4/model/synth.h"
#include "golden_fixture.h"

namespace fp4::testing {
namespace {

namespace fs = std::filesystem;

// The tiny DeepSeek-V3 golden config (shapes only; its quantization block removed).
std::string tiny_config() {
  std::ifstream in(golden_dir("deepseek_v3_bf16") + "/config.json");
  nlohmann::json j = nlohmann::json::parse(in);
  j.erase("quantization_config");
  return j.dump();
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Synth : public ::testing::Test {
 protected:
  fs::path dir(const std::string& name) {
    fs::path p = fs::temp_directory_path() / ("fp4_synth_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(p);
    made_.push_back(p);
    return p;
  }
  void TearDown() override {
    for (const auto& p : made_) fs::remove_all(p);
  }
  std::vector<fs::path> made_;
};

TEST_F(Synth, EveryEncodingLoadsAndRuns) {
  ThreadPool pool(2);
  const struct {
    model::SynthEncoding enc;
    const char* name;
    const char* expect;  // in describe(): the linears' stored encodings
  } cases[] = {{model::SynthEncoding::kBF16, "bf16", "99 bf16 linears"},
               {model::SynthEncoding::kFP8, "fp8", "fp8-block"},
               {model::SynthEncoding::kNVFP4, "nvfp4", "nvfp4"}};
  for (const auto& c : cases) {
    const fs::path p = dir(c.name);
    const model::SynthReport r = model::write_synthetic_checkpoint(tiny_config(), c.enc, 5, p.string(), pool);
    EXPECT_GT(r.tensors, 0);
    auto m = model::Model::load(p.string(), pool);
    EXPECT_NE(m->describe().find(c.expect), std::string::npos) << m->describe();
    TestKv kv(*m, 8);
    std::vector<float> logits(static_cast<size_t>(4 * m->vocab_size()));
    const std::vector<int32_t> ids = {5, 17, 42, 7};
    model::ForwardOptions opt;
    opt.all_logits = true;
    m->forward(ids, 0, kv.view(), opt, logits.data());
    for (float v : logits) ASSERT_TRUE(std::isfinite(v)) << c.name;
  }
}

// GQA families: the plan must hold exactly the tensors the loader binds (Qwen2's q/k/v biases, Qwen3's
// q/k norms, a tied head without lm_head), or loading fails naming the missing or unbound tensor.
TEST_F(Synth, GqaShapesLoadAndRun) {
  ThreadPool pool(2);
  for (const char* family : {"llama", "qwen2", "qwen2_tied", "qwen3"}) {
    std::ifstream in(golden_dir(std::string(family) + "_bf16") + "/config.json");
    nlohmann::json j = nlohmann::json::parse(in);
    j.erase("quantization_config");
    for (const model::SynthEncoding enc :
         {model::SynthEncoding::kBF16, model::SynthEncoding::kFP8, model::SynthEncoding::kNVFP4}) {
      const fs::path p = dir(std::string(family) + "_" + std::to_string(static_cast<int>(enc)));
      model::write_synthetic_checkpoint(j.dump(), enc, 3, p.string(), pool);
      auto m = model::Model::load(p.string(), pool);
      TestKv kv(*m, 4);
      std::vector<float> logits(static_cast<size_t>(m->vocab_size()));
      const std::vector<int32_t> ids = {5, 17, 42, 7};
      m->forward(ids, 0, kv.view(), model::ForwardOptions{}, logits.data());
      for (float v : logits) ASSERT_TRUE(std::isfinite(v)) << family;
    }
  }
}

TEST_F(Synth, OutputDoesNotDependOnThreads) {
  ThreadPool one(1), two(2);
  const fs::path a = dir("t1"), b = dir("t2");
  model::write_synthetic_checkpoint(tiny_config(), model::SynthEncoding::kNVFP4, 9, a.string(), one);
  model::write_synthetic_checkpoint(tiny_config(), model::SynthEncoding::kNVFP4, 9, b.string(), two);
  EXPECT_EQ(read_file(a / "model.safetensors"), read_file(b / "model.safetensors"));
  EXPECT_THROW(model::write_synthetic_checkpoint(tiny_config(), model::SynthEncoding::kBF16, 9, a.string(), one),
               Error);  // refuses to overwrite
}

TEST(SynthConfig, KnownShapes) {
  const nlohmann::json lite = nlohmann::json::parse(model::synth_config_json("deepseek-v2-lite", 0));
  EXPECT_EQ(lite["num_hidden_layers"], 27);
  EXPECT_EQ(lite["n_routed_experts"], 64);
  const nlohmann::json r1 = nlohmann::json::parse(model::synth_config_json("deepseek-r1", 4));
  EXPECT_EQ(r1["num_hidden_layers"], 4);
  EXPECT_EQ(r1["first_k_dense_replace"], 3);
  const nlohmann::json llama = nlohmann::json::parse(model::synth_config_json("llama-3.1-8b", 2));
  EXPECT_EQ(llama["num_hidden_layers"], 2);
  EXPECT_EQ(llama["num_key_value_heads"], 8);
  EXPECT_FALSE(llama.contains("first_k_dense_replace"));
  EXPECT_THROW(model::synth_config_json("gpt-5", 0), Error);
  EXPECT_THROW(model::synth_config_json("deepseek-r1", 62), Error);
}

}  // namespace
}  // namespace fp4::testing
