// End-to-end runs of quantize_checkpoint on the golden tiny models (tests/golden/*), and the bad inputs
// that must fail with one clear line and leave no output folder.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fp4/base/error.h"
#include "fp4/base/formats.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/quant_config.h"
#include "fp4/quant/nvfp4_codec.h"
#include "fp4/quant/quantizer.h"

namespace fp4::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGolden = fs::path(FP4_SOURCE_DIR) / "tests" / "golden";

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class QuantizePipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("fp4_quant_test_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Nothing but `keep` may be left in root_ (no output, no hidden partial folder).
  void expect_only(const std::set<std::string>& keep) {
    for (const auto& e : fs::directory_iterator(root_)) EXPECT_TRUE(keep.count(e.path().filename().string())) << e.path();
  }

  // Copies golden `name` to root_/name and rewrites its weights through `edit` (name → TensorData).
  fs::path edited_copy(const std::string& name, const std::function<void(std::vector<io::TensorData>&)>& edit) {
    const fs::path dst = root_ / name;
    fs::create_directories(dst);
    fs::copy_file(kGolden / name / "config.json", dst / "config.json");
    auto ckpt = io::HfCheckpoint::open((kGolden / name).string());
    std::vector<io::TensorData> tensors;
    ckpt.for_each([&](const io::TensorView& v) {
      tensors.push_back({{v.name(), v.dtype(), v.shape()}, std::vector<uint8_t>(v.data, v.data + v.nbytes())});
    });
    edit(tensors);
    io::write_safetensors_file((dst / "model.safetensors").string(), tensors);
    return dst;
  }

  QuantizeOptions options(const fs::path& in, const std::string& out_name, OutputFormat format) {
    QuantizeOptions o;
    o.input_dir = in.string();
    o.output_dir = (root_ / out_name).string();
    o.format = format;
    return o;
  }

  fs::path root_;
};

TEST_F(QuantizePipeline, ProgressCountsEveryInputByteOnce) {
  QuantizeOptions o = options(kGolden / "deepseek_v3_bf16", "out", OutputFormat::kNvfp4);
  std::vector<uint64_t> done;
  uint64_t total = 0;
  std::vector<std::string> items;
  o.on_progress = [&](uint64_t d, uint64_t t, const std::string& item) {
    done.push_back(d);
    total = t;
    items.push_back(item);
  };
  const QuantizeSummary s = quantize_checkpoint(o);
  ASSERT_FALSE(done.empty());
  EXPECT_TRUE(std::is_sorted(done.begin(), done.end()));
  EXPECT_EQ(done.back(), total);
  // Progress counts the weights read (not their block scales), which for a BF16 input is every byte.
  EXPECT_EQ(total, s.total_before);
  EXPECT_NE(std::find(items.begin(), items.end(), "model.layers.1.mlp.experts.3.up_proj"), items.end());
}

TEST_F(QuantizePipeline, DeepseekBf16ToNvfp4FollowsTheR1Recipe) {
  const QuantizeSummary s = quantize_checkpoint(options(kGolden / "deepseek_v3_bf16", "out", OutputFormat::kNvfp4));
  const fs::path out = root_ / "out";
  auto in = io::HfCheckpoint::open((kGolden / "deepseek_v3_bf16").string());
  auto q = io::HfCheckpoint::open(out.string());
  const io::QuantConfig qc = io::load_quant_config(out.string());
  EXPECT_EQ(qc.method, io::QuantMethod::kModelOptNVFP4);
  EXPECT_FALSE(json::parse(slurp(out / "config.json")).contains("quantization_config"));
  const json manifest = json::parse(slurp(out / "hf_quant_config.json"));
  EXPECT_EQ(manifest["quantization"]["quant_algo"], "NVFP4");
  EXPECT_EQ(manifest["quantization"]["group_size"], 16);
  EXPECT_TRUE(manifest["quantization"]["kv_cache_quant_algo"].is_null());
  const auto excludes = manifest["quantization"]["exclude_modules"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(excludes.begin(), excludes.end(), "model.layers.0.self_attn*"), excludes.end());
  EXPECT_NE(std::find(excludes.begin(), excludes.end(), "lm_head"), excludes.end());
  EXPECT_TRUE(fs::exists(out / "report.md"));

  // Attention, router, embeddings stay BF16 bit for bit; MLPs and experts are NVFP4.
  EXPECT_EQ(q.view("model.layers.0.self_attn.q_a_proj.weight").dtype(), DType::kBF16);
  EXPECT_EQ(q.view("model.layers.1.mlp.gate.weight").dtype(), DType::kBF16);
  EXPECT_EQ(q.view("model.embed_tokens.weight").dtype(), DType::kBF16);
  for (const char* m : {"model.layers.0.mlp.down_proj", "model.layers.1.mlp.experts.3.up_proj",
                        "model.layers.1.mlp.shared_experts.gate_proj"}) {
    SCOPED_TRACE(m);
    const io::TensorView w = in.view(std::string(m) + ".weight");
    const io::TensorView pw = q.view(std::string(m) + ".weight");
    EXPECT_EQ(pw.dtype(), DType::kU8);
    EXPECT_EQ(pw.shape(), (std::vector<int64_t>{w.dim(0), w.dim(1) / 2}));
    EXPECT_EQ(q.view(std::string(m) + ".weight_scale").shape(), (std::vector<int64_t>{w.dim(0), w.dim(1) / 16}));
    EXPECT_EQ(q.view(std::string(m) + ".weight_scale_2").dtype(), DType::kF32);
    EXPECT_EQ(q.view(std::string(m) + ".input_scale").dtype(), DType::kF32);
    // The loader accepts it as an NVFP4 linear.
    EXPECT_EQ(io::bind_linear(q, qc, m, w.dim(0), w.dim(1)).encoding, WeightEncoding::kNVFP4);
  }
  // gate/up share weight_scale_2, computed from the larger amax.
  const std::string e = "model.layers.1.mlp.experts.5.";
  const float g = *q.view(e + "gate_proj.weight_scale_2").as<float>(DType::kF32);
  const float u = *q.view(e + "up_proj.weight_scale_2").as<float>(DType::kF32);
  EXPECT_EQ(g, u);
  float amax = 0.0f;
  for (const char* part : {"gate_proj.weight", "up_proj.weight"}) {
    const io::TensorView v = in.view(e + part);
    for (int64_t i = 0; i < v.numel(); ++i) amax = std::max(amax, std::fabs(bf16_to_f32(v.as<uint16_t>(DType::kBF16)[i])));
  }
  EXPECT_EQ(g, nvfp4_global_scale(amax, GlobalScaleArith::kCudaReciprocal));  // the default
  EXPECT_GT(s.total_before, s.total_after);
  for (const auto& err : s.errors) EXPECT_GT(err.snr_db, 15.0) << err.name;  // 4-bit codes: ~20 dB on Gaussians
}

TEST_F(QuantizePipeline, Fp8InputIsDequantizedFirst) {
  quantize_checkpoint(options(kGolden / "deepseek_v3_fp8", "out", OutputFormat::kNvfp4));
  auto in = io::HfCheckpoint::open((kGolden / "deepseek_v3_fp8").string());
  auto q = io::HfCheckpoint::open((root_ / "out").string());
  // Attention was FP8: now BF16, equal to DeepSeek's weight_dequant rounded to BF16; its scale is gone.
  const std::string m = "model.layers.0.self_attn.kv_a_proj_with_mqa";
  const io::TensorView w8 = in.view(m + ".weight");
  const io::TensorView s8 = in.view(m + ".weight_scale_inv");
  const io::TensorView bf = q.view(m + ".weight");
  ASSERT_EQ(bf.dtype(), DType::kBF16);
  EXPECT_FALSE(q.contains(m + ".weight_scale_inv"));
  const int64_t cols = w8.dim(1);
  for (int64_t i = 0; i < w8.numel(); ++i) {
    const float scale = s8.as<float>(DType::kF32)[(i / cols / 128) * s8.dim(1) + (i % cols) / 128];
    ASSERT_EQ(bf.as<uint16_t>(DType::kBF16)[i], f32_to_bf16(e4m3_to_f32(w8.as<uint8_t>(DType::kF8_E4M3)[i]) * scale));
  }
  EXPECT_EQ(q.view("model.layers.0.mlp.down_proj.weight").dtype(), DType::kU8);
  EXPECT_FALSE(json::parse(slurp(root_ / "out" / "config.json")).contains("quantization_config"));
}

TEST_F(QuantizePipeline, Bf16ToFp8BlockInDeepseekLayout) {
  quantize_checkpoint(options(kGolden / "llama_bf16", "out", OutputFormat::kFp8Block));
  auto q = io::HfCheckpoint::open((root_ / "out").string());
  const io::QuantConfig qc = io::load_quant_config((root_ / "out").string());
  EXPECT_EQ(qc.method, io::QuantMethod::kFP8Block);
  const io::TensorView w = q.view("model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(w.dtype(), DType::kF8_E4M3);
  EXPECT_EQ(q.view("model.layers.0.self_attn.q_proj.weight_scale_inv").shape(),
            (std::vector<int64_t>{(w.dim(0) + 127) / 128, (w.dim(1) + 127) / 128}));
  EXPECT_EQ(q.view("lm_head.weight").dtype(), DType::kBF16);
  EXPECT_FALSE(fs::exists(root_ / "out" / "hf_quant_config.json"));
}

TEST_F(QuantizePipeline, IncludeExcludeAndV2Recipe) {
  QuantizeOptions o = options(kGolden / "deepseek_v3_bf16", "out", OutputFormat::kNvfp4);
  o.recipe = Recipe::kR1Fp4V2;
  o.exclude = {"*.experts.1.*"};
  o.include = {"model.layers.0.self_attn.q_b_proj"};
  quantize_checkpoint(o);
  auto q = io::HfCheckpoint::open((root_ / "out").string());
  EXPECT_EQ(q.view("model.layers.0.self_attn.o_proj.weight").dtype(), DType::kU8);
  EXPECT_EQ(q.view("model.layers.0.self_attn.q_b_proj.weight").dtype(), DType::kU8);
  EXPECT_EQ(q.view("model.layers.0.self_attn.q_a_proj.weight").dtype(), DType::kBF16);
  EXPECT_EQ(q.view("model.layers.1.mlp.experts.1.up_proj.weight").dtype(), DType::kBF16);
  EXPECT_EQ(q.view("model.layers.1.mlp.experts.2.up_proj.weight").dtype(), DType::kU8);
}

TEST_F(QuantizePipeline, ScaleWithWrongDtypeFails) {
  const fs::path in = edited_copy("deepseek_v3_fp8", [](std::vector<io::TensorData>& ts) {
    for (auto& t : ts) {
      if (t.spec.name == "model.layers.0.mlp.down_proj.weight_scale_inv") {
        t.spec.dtype = DType::kBF16;
        t.bytes.resize(t.bytes.size() / 2);
      }
    }
  });
  try {
    quantize_checkpoint(options(in, "out", OutputFormat::kNvfp4));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.0.mlp.down_proj.weight_scale_inv' has dtype BF16, expected F32"),
              std::string::npos) << e.what();
  }
  expect_only({"deepseek_v3_fp8"});
}

TEST_F(QuantizePipeline, InputFeaturesNotMultipleOf16Fails) {
  const fs::path in = edited_copy("llama_bf16", [](std::vector<io::TensorData>& ts) {
    for (auto& t : ts) {
      if (t.spec.name == "model.layers.0.mlp.down_proj.weight") {
        t.spec.shape[1] = 40;
        t.bytes.assign(static_cast<size_t>(t.spec.shape[0] * 40 * 2), 0);
      }
    }
  });
  try {
    quantize_checkpoint(options(in, "out", OutputFormat::kNvfp4));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.0.mlp.down_proj.weight' has 40 input features, not a multiple"),
              std::string::npos) << e.what();
  }
  expect_only({"llama_bf16"});
}

TEST_F(QuantizePipeline, MissingIndexEntryFails) {
  // Shard the golden model, then drop one tensor from the index.
  const fs::path in = root_ / "sharded";
  fs::create_directories(in);
  fs::copy_file(kGolden / "llama_bf16" / "config.json", in / "config.json");
  auto ckpt = io::HfCheckpoint::open((kGolden / "llama_bf16").string());
  std::vector<io::TensorSpec> specs;
  ckpt.for_each([&](const io::TensorView& v) { specs.push_back({v.name(), v.dtype(), v.shape()}); });
  {
    io::SafetensorsWriterOptions wo;
    wo.max_shard_bytes = 200'000;
    io::SafetensorsWriter w(in.string(), specs, wo);
    ckpt.for_each([&](const io::TensorView& v) { w.write(v.name(), {v.data, v.nbytes()}); });
    ASSERT_GT(w.finish().size(), 1u);
  }
  json index = json::parse(slurp(in / "model.safetensors.index.json"));
  index["weight_map"].erase("model.layers.0.mlp.up_proj.weight");
  std::ofstream(in / "model.safetensors.index.json") << index.dump();
  try {
    quantize_checkpoint(options(in, "out", OutputFormat::kNvfp4));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << e.what();
  }
  expect_only({"sharded"});
}

TEST_F(QuantizePipeline, UnknownRecipeFails) {
  try {
    parse_recipe("r2-fp3");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "unknown recipe 'r2-fp3' (expected r1-fp4, r1-fp4-v2 or all-linear)");
  }
}

TEST_F(QuantizePipeline, MaxMemoryTooSmallFailsAndLeavesNothing) {
  QuantizeOptions o = options(kGolden / "deepseek_v3_bf16", "out", OutputFormat::kNvfp4);
  o.max_memory_bytes = 4096;
  try {
    quantize_checkpoint(o);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--max-memory 4096 bytes is too small"), std::string::npos) << e.what();
  }
  expect_only({});
  // A limit above the largest band succeeds and reports its peak within the limit.
  o.max_memory_bytes = 4u << 20;
  const QuantizeSummary s = quantize_checkpoint(o);
  EXPECT_LE(s.peak_working_bytes, o.max_memory_bytes);
  EXPECT_GT(s.peak_working_bytes, 0u);
}

TEST_F(QuantizePipeline, ExistingOutputIsNotOverwritten) {
  fs::create_directories(root_ / "out");
  EXPECT_THROW(quantize_checkpoint(options(kGolden / "llama_bf16", "out", OutputFormat::kNvfp4)), Error);
}

TEST(ByteSize, Parses) {
  EXPECT_EQ(parse_byte_size("4G"), 4ull << 30);
  EXPECT_EQ(parse_byte_size("512M"), 512ull << 20);
  EXPECT_EQ(parse_byte_size("100"), 100u);
  EXPECT_THROW(parse_byte_size("4X"), Error);
  EXPECT_THROW(parse_byte_size("lots"), Error);
}

}  // namespace
}  // namespace fp4::quant
