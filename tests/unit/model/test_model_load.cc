// A checkpoint that disagrees with its config fails at Model::load with one line naming the tensor or
// field, before any compute. Each case edits a copy of a golden fixture.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fp4/base/error.h"
#include "fp4/base/thread_pool.h"
#include "fp4/io/safetensors.h"
#include "fp4/model/model.h"
#include "golden_fixture.h"

namespace fp4::testing {
namespace {

namespace fs = std::filesystem;

class BrokenCheckpoint : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  // A private copy of a fixture.
  std::string copy_of(const std::string& fixture) {
    dir_ = (fs::temp_directory_path() / ("fp4_model_load_" + std::to_string(::getpid()) + "_" + fixture)).string();
    fs::remove_all(dir_);
    fs::copy(golden_dir(fixture), dir_, fs::copy_options::recursive);
    return dir_;
  }
  void edit_config(const std::function<void(nlohmann::json&)>& edit) {
    std::ifstream in(dir_ + "/config.json");
    nlohmann::json j = nlohmann::json::parse(in);
    edit(j);
    std::ofstream(dir_ + "/config.json") << j.dump(2);
  }
  // Rewrites model.safetensors without the named tensor.
  void drop_tensor(const std::string& name) {
    std::vector<io::TensorData> keep;
    {
      auto file = io::SafetensorsFile::open(dir_ + "/model.safetensors");
      for (const io::TensorInfo& info : file->tensors()) {
        if (info.name == name) continue;
        const io::TensorView v = file->view(info);
        io::TensorData t;
        t.spec = {info.name, info.dtype, info.shape};
        t.bytes.assign(v.data, v.data + v.nbytes());
        keep.push_back(std::move(t));
      }
    }
    io::write_safetensors_file(dir_ + "/model.safetensors", keep);
  }
  // The message of the fp4::Error that loading throws ("" when it loads).
  std::string load_error() {
    ThreadPool pool(1);
    try {
      model::Model::load(dir_, pool);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  static void expect_one_line_naming(const std::string& message, const std::string& what) {
    EXPECT_NE(message.find(what), std::string::npos) << "message: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "message: " << message;
  }
  std::string dir_;
};

TEST_F(BrokenCheckpoint, FixtureLoadsUnchanged) {
  copy_of("deepseek_v3_nvfp4");
  EXPECT_EQ(load_error(), "");
}

TEST_F(BrokenCheckpoint, MissingExpertTensorIsNamed) {
  copy_of("deepseek_v3_bf16");
  drop_tensor("model.layers.2.mlp.experts.5.down_proj.weight");
  expect_one_line_naming(load_error(), "model.layers.2.mlp.experts.5.down_proj");
}

TEST_F(BrokenCheckpoint, MissingNormIsNamed) {
  copy_of("qwen3_bf16");
  drop_tensor("model.layers.1.self_attn.k_norm.weight");
  expect_one_line_naming(load_error(), "model.layers.1.self_attn.k_norm.weight");
}

TEST_F(BrokenCheckpoint, MissingCorrectionBiasIsNamed) {
  copy_of("deepseek_v3_fp8");
  drop_tensor("model.layers.1.mlp.gate.e_score_correction_bias");
  expect_one_line_naming(load_error(), "model.layers.1.mlp.gate.e_score_correction_bias");
}

TEST_F(BrokenCheckpoint, ShapeThatDisagreesWithConfigIsNamed) {
  copy_of("deepseek_v2_lite_bf16");
  edit_config([](nlohmann::json& j) { j["moe_intermediate_size"] = 48; });
  expect_one_line_naming(load_error(), "model.layers.1.mlp.experts.0.gate_proj");
}

TEST_F(BrokenCheckpoint, MissingQuantDescriptionIsAnEncodingError) {
  // NVFP4 tensors (U8 weight + scales) in a folder whose config describes no quantization.
  copy_of("llama_nvfp4");
  fs::remove(dir_ + "/hf_quant_config.json");
  expect_one_line_naming(load_error(), "model.layers.0.mlp.gate_proj");
}

TEST_F(BrokenCheckpoint, TensorTheConfigDoesNotDescribeIsNamed) {
  // qwen2 weights (with q/k/v biases) under a llama config: llama has no q/k/v bias, so the biases
  // would be silently ignored; the loader names the first one instead.
  copy_of("qwen2_bf16");
  edit_config([](nlohmann::json& j) {
    j["model_type"] = "llama";
    j["architectures"] = {"LlamaForCausalLM"};
  });
  expect_one_line_naming(load_error(), "model.layers.0.self_attn.k_proj.bias");
}

TEST_F(BrokenCheckpoint, UnsupportedArchitectureIsNamed) {
  copy_of("llama_bf16");
  edit_config([](nlohmann::json& j) { j["model_type"] = "gpt2"; });
  expect_one_line_naming(load_error(), "gpt2");
}

TEST_F(BrokenCheckpoint, UnsupportedRopeScalingIsNamed) {
  copy_of("qwen2_bf16");
  edit_config([](nlohmann::json& j) { j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}}; });
  expect_one_line_naming(load_error(), "dynamic");
}

TEST_F(BrokenCheckpoint, TokenOutsideVocabularyIsRejectedBeforeCompute) {
  copy_of("qwen2_tied_bf16");
  ThreadPool pool(1);
  auto m = model::Model::load(dir_, pool);
  TestKv kv(*m, 4);
  std::vector<float> logits(static_cast<size_t>(m->vocab_size()));
  const std::vector<int32_t> ids = {3, static_cast<int32_t>(m->vocab_size())};
  try {
    m->forward(ids, 0, kv.view(), {}, logits.data());
    ADD_FAILURE() << "forward accepted an out-of-vocabulary token";
  } catch (const Error& e) {
    expect_one_line_naming(e.what(), "outside the vocabulary");
  }
}

TEST_F(BrokenCheckpoint, CacheTooSmallIsRejectedBeforeCompute) {
  copy_of("llama_fp8");
  ThreadPool pool(1);
  auto m = model::Model::load(dir_, pool);
  TestKv kv(*m, 4, 4);  // one block of 4 tokens
  std::vector<float> logits(static_cast<size_t>(m->vocab_size()));
  const std::vector<int32_t> ids = {3, 4, 5, 6, 7};
  EXPECT_THROW(m->forward(ids, 0, kv.view(), {}, logits.data()), Error);
}

}  // namespace
}  // namespace fp4::testing
