// Calibration (quantize --calib): the recorded activation amax, checked against an independent
// computation of the first linear's input, the expert fill-in rule, the input_scale written, and the
// errors for bad calibration files.
#include "fp4/quant/calibration.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/quant/quantizer.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::quant {
namespace {

namespace fs = std::filesystem;
const fs::path kTinyR1 = fs::path(FP4_SOURCE_DIR) / "models" / "tiny-r1";

class Calibration : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("fp4_calib_test_" + std::to_string(getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = root_ / name;
    std::ofstream(p) << text;
    return p;
  }

  fs::path root_;
};

std::vector<float> bf16_tensor(const io::HfCheckpoint& ckpt, const std::string& name) {
  const io::TensorView v = ckpt.view(name);
  std::vector<float> out(v.nbytes() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, v.data + 2 * i, 2);
    out[i] = bf16_to_f32(bits);
  }
  return out;
}

TEST_F(Calibration, FirstLinearAmaxEqualsTheNormedEmbeddingsOfTheTokens) {
  CalibrationOptions o;
  o.file = write("calib.jsonl", "{\"text\": \"What is 12 + 30?\"}\n\n{\"text\": \"Solve for x: 3x + 5 = 20\"}\n").string();
  o.threads = 2;
  const CalibrationResult r = calibrate(kTinyR1.string(), o);
  EXPECT_EQ(r.samples, 2);

  // Independent: layer 0's q_a_proj sees rmsnorm(embedding[token]) · input_layernorm for every token.
  const auto ckpt = io::HfCheckpoint::open(kTinyR1.string());
  const std::vector<float> embed = bf16_tensor(ckpt, "model.embed_tokens.weight");
  const std::vector<float> norm = bf16_tensor(ckpt, "model.layers.0.input_layernorm.weight");
  const int64_t hidden = static_cast<int64_t>(norm.size());
  const auto tok = tokenizer::Tokenizer::from_directory(kTinyR1);
  double expected = 0.0;
  int64_t tokens = 0;
  for (const char* text : {"What is 12 + 30?", "Solve for x: 3x + 5 = 20"}) {
    for (const uint32_t id : tok.encode(text, true)) {
      ++tokens;
      const float* e = embed.data() + static_cast<int64_t>(id) * hidden;
      double ss = 0.0;
      for (int64_t i = 0; i < hidden; ++i) ss += double(e[i]) * e[i];
      const double inv = 1.0 / std::sqrt(ss / double(hidden) + 1e-6);
      for (int64_t i = 0; i < hidden; ++i) expected = std::max(expected, std::fabs(e[i] * inv * norm[i]));
    }
  }
  EXPECT_EQ(r.tokens, tokens);
  ASSERT_TRUE(r.amax.count("model.layers.0.self_attn.q_a_proj"));
  // f32 RMSNorm against the f64 one above: a few ulps of relative error.
  EXPECT_NEAR(r.amax.at("model.layers.0.self_attn.q_a_proj"), expected, 1e-5 * expected);
  // Every linear the model ran got an amax, experts included (observed or filled in from their layer).
  EXPECT_TRUE(r.amax.count("model.layers.0.mlp.down_proj"));
  for (int e = 0; e < 16; ++e) {
    EXPECT_TRUE(r.amax.count("model.layers.3.mlp.experts." + std::to_string(e) + ".up_proj")) << e;
  }
}

TEST(CalibrationFill, UnroutedExpertsTakeTheirLayersMax) {
  const std::vector<std::string> modules = {
      "model.layers.1.mlp.experts.0.up_proj", "model.layers.1.mlp.experts.1.up_proj",
      "model.layers.1.mlp.experts.2.up_proj", "model.layers.1.mlp.experts.2.down_proj",
      "model.layers.2.mlp.experts.0.up_proj", "model.layers.1.self_attn.o_proj"};
  std::map<std::string, float> amax = {{"model.layers.1.mlp.experts.0.up_proj", 3.0f},
                                       {"model.layers.1.mlp.experts.1.up_proj", 5.0f}};
  EXPECT_EQ(fill_unrouted_experts(modules, amax), 1);
  EXPECT_EQ(amax.at("model.layers.1.mlp.experts.2.up_proj"), 5.0f);
  // No observed sibling (other projection, other layer, not an expert): left to the default.
  EXPECT_FALSE(amax.count("model.layers.1.mlp.experts.2.down_proj"));
  EXPECT_FALSE(amax.count("model.layers.2.mlp.experts.0.up_proj"));
  EXPECT_FALSE(amax.count("model.layers.1.self_attn.o_proj"));
}

TEST_F(Calibration, QuantizeWritesCalibratedInputScales) {
  CalibrationOptions c;
  c.file = write("calib.jsonl",
                 "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 7 × 8?\"}]}\n"
                 "{\"text\": \"다음 문제를 풀어주세요: 15 - 9\"}\n")
               .string();
  c.threads = 2;
  const CalibrationResult r = calibrate(kTinyR1.string(), c);
  QuantizeOptions q;
  q.input_dir = kTinyR1.string();
  q.output_dir = (root_ / "out").string();
  q.input_amax = r.amax;
  q.calibration_summary = "test";
  quantize_checkpoint(q);
  const auto out = io::HfCheckpoint::open(q.output_dir);
  for (const std::string m : {"model.layers.0.mlp.down_proj", "model.layers.2.mlp.experts.5.gate_proj"}) {
    const io::TensorView v = out.view(m + ".input_scale");
    float scale;
    std::memcpy(&scale, v.data, 4);
    // gate/up are one fused group: both carry the larger of the two amax.
    float amax = r.amax.at(m);
    if (m.find("gate_proj") != std::string::npos) {
      amax = std::max(amax, r.amax.at(m.substr(0, m.size() - 9) + "up_proj"));
    }
    EXPECT_EQ(scale, amax / (6.0f * 448.0f)) << m;
  }
}

TEST_F(Calibration, BadFilesFailWithFileAndLine) {
  CalibrationOptions o;
  o.file = write("bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": 1}\n").string();
  try {
    read_calibration_samples(kTinyR1.string(), o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  o.file = write("notjson.jsonl", "text\n").string();
  EXPECT_THROW(read_calibration_samples(kTinyR1.string(), o), Error);
  o.file = write("empty.jsonl", "\n\n").string();
  EXPECT_THROW(read_calibration_samples(kTinyR1.string(), o), Error);
  o.file = (root_ / "missing.jsonl").string();
  EXPECT_THROW(read_calibration_samples(kTinyR1.string(), o), Error);
  o.file = write("msgs.jsonl", "{\"messages\": []}\n").string();
  EXPECT_THROW(read_calibration_samples(kTinyR1.string(), o), Error);
}

}  // namespace
}  // namespace fp4::quant
