// Quantization descriptions (DeepSeek FP8 block; ModelOpt legacy manifest and both config.json shapes),
// per-tensor exclusion, and binding a linear's tensors to a WeightView with every check.
#include <gtest/gtest.h>

#include <cstring>

#include "fp4/base/mapped_file.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/quant_config.h"
#include "unit/io/io_test_util.h"

namespace fp4::io {
namespace {

using test::as_bytes;
using test::expect_error;
using test::TempDir;

std::string data_dir(const std::string& name) { return std::string(FP4_SOURCE_DIR) + "/tests/data/" + name; }

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(glob_match("model.layers.61*", "model.layers.61.mlp.experts.3.up_proj"));
  EXPECT_FALSE(glob_match("model.layers.61*", "model.layers.6.mlp"));
  EXPECT_TRUE(glob_match("*mlp.gate.*", "model.layers.3.mlp.gate.weight"));
  EXPECT_FALSE(glob_match("*mlp.gate.*", "model.layers.3.mlp.gate_proj.weight"));
  EXPECT_TRUE(glob_match("model.layers.?.self_attn*", "model.layers.7.self_attn.o_proj"));
  EXPECT_FALSE(glob_match("model.layers.?.self_attn*", "model.layers.17.self_attn.o_proj"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  // Many stars against a long non-matching text stays polynomial (the fuzzer relies on this).
  EXPECT_FALSE(glob_match(std::string(40, '*') + "x", std::string(4000, 'a')));
}

TEST(QuantConfig, DeepSeekFp8Block) {
  QuantConfig q = load_quant_config(data_dir("deepseek_r1"));
  EXPECT_EQ(q.method, QuantMethod::kFP8Block);
  EXPECT_EQ(q.block_rows, 128);
  EXPECT_EQ(q.block_cols, 128);
  EXPECT_EQ(q.activation_scheme, "dynamic");
  EXPECT_EQ(q.resolve("model.layers.0.self_attn.q_a_proj"), LinearQuant::kFP8Block);
  EXPECT_EQ(q.resolve("model.layers.5.mlp.experts.1.down_proj"), LinearQuant::kFP8Block);
}

TEST(QuantConfig, ModelOptManifestOfR1_0528) {
  QuantConfig q = load_quant_config(data_dir("deepseek_r1_0528_fp4"));
  EXPECT_EQ(q.method, QuantMethod::kModelOptNVFP4);
  EXPECT_EQ(q.quant_algo, "NVFP4");
  EXPECT_EQ(q.kv_cache_quant_algo, "FP8");
  EXPECT_EQ(q.group_size, 16);
  EXPECT_EQ(q.producer, "modelopt 0.31.0");
  EXPECT_EQ(q.exclude_patterns.size(), 63u);  // lm_head, 61 × self_attn*, layers.61*
  EXPECT_EQ(q.resolve("model.layers.0.mlp.gate_proj"), LinearQuant::kNVFP4);
  EXPECT_EQ(q.resolve("model.layers.10.mlp.experts.255.down_proj"), LinearQuant::kNVFP4);
  EXPECT_EQ(q.resolve("model.layers.10.mlp.shared_experts.up_proj"), LinearQuant::kNVFP4);
  EXPECT_EQ(q.resolve("model.layers.10.self_attn.kv_b_proj"), LinearQuant::kUnquantized);
  EXPECT_EQ(q.resolve("model.layers.61.mlp.experts.0.up_proj"), LinearQuant::kUnquantized);
  EXPECT_EQ(q.resolve("model.layers.61.eh_proj"), LinearQuant::kUnquantized);
  EXPECT_EQ(q.resolve("lm_head"), LinearQuant::kUnquantized);
}

TEST(QuantConfig, StaleFp8BlockLosesToTheModelOptManifest) {
  // The V3-0324 FP4 release kept DeepSeek's FP8 block in config.json beside an NVFP4 manifest.
  std::string config = R"({"quantization_config":{"quant_method":"fp8","weight_block_size":[128,128]}})";
  std::string manifest = R"({"producer":{"name":"modelopt","version":"0.27.0"},
                             "quantization":{"quant_algo":"NVFP4","exclude_modules":["lm_head"]}})";
  QuantConfig q = parse_quant_config(config, manifest, "m");
  EXPECT_EQ(q.method, QuantMethod::kModelOptNVFP4);
  EXPECT_EQ(q.source, "m/hf_quant_config.json");
}

TEST(QuantConfig, InlineCompressedTensorsShape) {
  std::string config = R"({"quantization_config":{
      "quant_method":"modelopt","quant_algo":"NVFP4",
      "config_groups":{"group_0":{"weights":{"num_bits":4,"type":"float","group_size":16,"dynamic":false},
                                  "input_activations":{"num_bits":4,"type":"float","group_size":16},
                                  "targets":["Linear"]}},
      "ignore":["lm_head","model.layers.0.self_attn*"],
      "kv_cache_scheme":{"num_bits":8,"type":"float","dynamic":false},
      "producer":{"name":"modelopt","version":"0.33.0"}}})";
  QuantConfig q = parse_quant_config(config, "", "m");
  EXPECT_EQ(q.method, QuantMethod::kModelOptNVFP4);
  EXPECT_EQ(q.kv_cache_quant_algo, "FP8");
  EXPECT_EQ(q.producer, "modelopt 0.33.0");
  EXPECT_EQ(q.source, "m/config.json: quantization_config");
  EXPECT_EQ(q.resolve("model.layers.0.self_attn.q_proj"), LinearQuant::kUnquantized);
  EXPECT_EQ(q.resolve("model.layers.1.self_attn.q_proj"), LinearQuant::kNVFP4);
  EXPECT_EQ(q.resolve("lm_head"), LinearQuant::kUnquantized);
}

TEST(QuantConfig, InlineLegacyShapeAndMixedPrecision) {
  std::string config = R"({"quantization_config":{"quant_method":"modelopt",
      "quantization":{"quant_algo":"MIXED_PRECISION","kv_cache_quant_algo":null,
                      "quantized_layers":{"model.layers.0.mlp.down_proj":{"quant_algo":"NVFP4","group_size":16}},
                      "exclude_modules":["lm_head"]}}})";
  QuantConfig q = parse_quant_config(config, "", "m");
  EXPECT_TRUE(q.mixed_precision);
  EXPECT_EQ(q.resolve("model.layers.0.mlp.down_proj"), LinearQuant::kNVFP4);
  EXPECT_EQ(q.resolve("model.layers.0.mlp.up_proj"), LinearQuant::kUnquantized);
  EXPECT_EQ(q.kv_cache_quant_algo, "");
}

TEST(QuantConfig, PlainExcludeEntriesNameAModuleAndItsChildren) {
  QuantConfig q;
  q.method = QuantMethod::kModelOptNVFP4;
  q.exclude_patterns = {"model.layers.1.mlp"};
  EXPECT_EQ(q.resolve("model.layers.1.mlp.down_proj"), LinearQuant::kUnquantized);
  EXPECT_EQ(q.resolve("model.layers.1.mlp"), LinearQuant::kUnquantized);
  EXPECT_EQ(q.resolve("model.layers.1.mlpx"), LinearQuant::kNVFP4);
  EXPECT_EQ(q.resolve("model.layers.11.mlp.down_proj"), LinearQuant::kNVFP4);
}

TEST(QuantConfig, UnsupportedDescriptionsAreRejectedByName) {
  expect_error([] { parse_quant_config(R"({"quantization_config":{"quant_method":"gptq","bits":4}})", "", "m"); },
               {"m/config.json: quantization_config", "quant_method 'gptq' is not supported"});
  expect_error([] { parse_quant_config("", R"({"quantization":{"quant_algo":"FP8"}})", "m"); },
               {"m/hf_quant_config.json", "quant_algo 'FP8' is not supported"});
  expect_error([] { parse_quant_config("", R"({"quantization":{"quant_algo":"NVFP4","group_size":32}})", "m"); },
               {"group_size 32 is not supported"});
  expect_error([] { parse_quant_config(R"({"quantization_config":{"quant_method":"fp8"}})", "", "m"); },
               {"missing \"weight_block_size\""});
  expect_error([] { parse_quant_config(R"({"quantization_config":{"quant_method":"fp8","weight_block_size":[128]}})", "", "m"); },
               {"\"weight_block_size\" is [128], expected [rows, cols]"});
  expect_error([] { parse_quant_config("", R"({"producer":{}})", "m"); }, {"missing \"quantization\""});
  expect_error([] { parse_quant_config("", "{", "m"); }, {"m/hf_quant_config.json: not valid JSON"});
  EXPECT_EQ(parse_quant_config(R"({"model_type":"llama"})", "", "m").method, QuantMethod::kNone);
}

// ---- bind_linear ----

float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct LinearFixture {
  TempDir dir;
  std::vector<TensorData> tensors;
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes = {}) {
    TensorSpec spec{name, dtype, std::move(shape)};
    if (bytes.empty()) bytes.assign(spec.nbytes(), 0x11);
    tensors.push_back({spec, std::move(bytes)});
  }
  void add_scalar(const std::string& name, float v) { add(name, DType::kF32, {}, as_bytes(std::vector<float>{v})); }
  HfCheckpoint write() {
    write_safetensors_file(dir.file("model.safetensors"), tensors);
    return HfCheckpoint::open(dir.path());
  }
};

QuantConfig nvfp4_config() {
  return parse_quant_config("", R"({"quantization":{"quant_algo":"NVFP4","exclude_modules":["*self_attn*"]}})", "m");
}

TEST(BindLinear, NvFp4) {
  LinearFixture f;
  f.add("mlp.up_proj.weight", DType::kU8, {8, 16});  // [N=8, K/2=16] → K = 32
  f.add("mlp.up_proj.weight_scale", DType::kF8_E4M3, {8, 2});
  f.add_scalar("mlp.up_proj.weight_scale_2", 0.0125f);
  f.add_scalar("mlp.up_proj.input_scale", 0.5f);
  auto ckpt = f.write();
  WeightView w = bind_linear(ckpt, nvfp4_config(), "mlp.up_proj", 8, 32);
  EXPECT_EQ(w.encoding, WeightEncoding::kNVFP4);
  EXPECT_EQ(w.rows, 8);
  EXPECT_EQ(w.cols, 32);
  EXPECT_EQ(w.data, ckpt.view("mlp.up_proj.weight").data);
  EXPECT_EQ(w.block_scale, ckpt.view("mlp.up_proj.weight_scale").data);
  EXPECT_FLOAT_EQ(w.global_scale, 0.0125f);
  EXPECT_FLOAT_EQ(w.input_scale, 0.5f);
  // Stored shape accepted when the caller passes -1.
  EXPECT_EQ(bind_linear(ckpt, nvfp4_config(), "mlp.up_proj", -1, -1).cols, 32);
  expect_error([&] { bind_linear(ckpt, nvfp4_config(), "mlp.up_proj", 8, 64); },
               {"linear 'mlp.up_proj' is [8, 32]", "the model expects [8, 64]"});
  QuantConfig excluded = parse_quant_config("", R"({"quantization":{"quant_algo":"NVFP4","exclude_modules":["mlp*"]}})", "m");
  expect_error([&] { bind_linear(ckpt, excluded, "mlp.up_proj", 8, 32); },
               {"linear 'mlp.up_proj' is stored NVFP4, but m/hf_quant_config.json says it is unquantized"});
  expect_error([&] { bind_linear(ckpt, nvfp4_config(), "mlp.down_proj", 8, 32); },
               {"linear 'mlp.down_proj' has no tensor 'mlp.down_proj.weight'"});
}

TEST(BindLinear, NvFp4Errors) {
  auto bind_with = [](auto mutate, std::vector<std::string> fragments) {
    LinearFixture f;
    f.add("m.weight", DType::kU8, {4, 8});
    f.add("m.weight_scale", DType::kF8_E4M3, {4, 1});
    f.add_scalar("m.weight_scale_2", 1.0f);
    mutate(f);
    auto ckpt = f.write();
    expect_error([&] { bind_linear(ckpt, nvfp4_config(), "m", 4, 16); }, fragments);
  };
  bind_with([](LinearFixture& f) { f.tensors[1].spec.shape = {4, 2}; f.tensors[1].bytes.resize(8); },
            {"tensor 'm.weight_scale' has shape [4, 2], expected [4, 1]"});
  bind_with([](LinearFixture& f) { f.tensors[1].spec.dtype = DType::kU8; },
            {"tensor 'm.weight_scale' (NVFP4 block scale) has dtype U8, expected F8_E4M3"});
  bind_with([](LinearFixture& f) { f.tensors.erase(f.tensors.begin() + 2); }, {"has no 'm.weight_scale_2'"});
  bind_with([](LinearFixture& f) { f.tensors.erase(f.tensors.begin() + 1); },
            {"tensor 'm.weight' is U8 but 'm.weight_scale' is missing"});
  bind_with([](LinearFixture& f) { f.tensors[2].bytes = as_bytes(std::vector<float>{-1.0f}); },
            {"tensor 'm.weight_scale_2' (NVFP4 global scale) is -1, expected a finite positive scale"});
  bind_with([](LinearFixture& f) { f.tensors[2].bytes = as_bytes(std::vector<float>{bits_to_float(0x7FC00000u)}); },
            {"'m.weight_scale_2'", "expected a finite positive scale"});
  bind_with([](LinearFixture& f) { f.tensors[2].spec.shape = {2}; f.tensors[2].bytes.resize(8); },
            {"'m.weight_scale_2' (NVFP4 global scale) has shape [2], expected a scalar [] or [1]"});
  bind_with([](LinearFixture& f) { f.add("m.input_scale", DType::kBF16, {}); },
            {"'m.input_scale' (input scale) has dtype BF16, expected F32"});
  bind_with([](LinearFixture& f) { f.tensors[0].spec.shape = {32}; }, {"'m.weight' has shape [32], expected a 2-D"});
}

TEST(BindLinear, Fp8Block) {
  LinearFixture f;
  // [N=200, K=300] with 128×128 blocks → scale [2, 3]; the edge blocks are partial.
  f.add("attn.o_proj.weight", DType::kF8_E4M3, {200, 300});
  f.add("attn.o_proj.weight_scale_inv", DType::kF32, {2, 3}, as_bytes(std::vector<float>(6, 0.001f)));
  auto ckpt = f.write();
  QuantConfig q = load_quant_config(data_dir("deepseek_r1"));
  WeightView w = bind_linear(ckpt, q, "attn.o_proj", 200, 300);
  EXPECT_EQ(w.encoding, WeightEncoding::kFP8Block);
  EXPECT_EQ(w.block_rows, 128);
  EXPECT_EQ(w.block_cols, 128);
  EXPECT_FLOAT_EQ(w.block_scale_inv[5], 0.001f);
  expect_error([&] { bind_linear(ckpt, nvfp4_config(), "attn.o_proj", 200, 300); },
               {"linear 'attn.o_proj' is stored FP8 block, but m/hf_quant_config.json says it is nvfp4"});
}

TEST(BindLinear, Fp8BlockErrors) {
  QuantConfig q = load_quant_config(data_dir("deepseek_r1"));
  {
    LinearFixture f;
    f.add("p.weight", DType::kF8_E4M3, {200, 300});
    f.add("p.weight_scale_inv", DType::kF32, {2, 2});
    auto ckpt = f.write();
    expect_error([&] { bind_linear(ckpt, q, "p", 200, 300); }, {"'p.weight_scale_inv' has shape [2, 2], expected [2, 3]"});
  }
  {
    LinearFixture f;
    f.add("p.weight", DType::kF8_E4M3, {4, 4});
    f.add("p.weight_scale_inv", DType::kF32, {1, 1}, as_bytes(std::vector<float>{bits_to_float(0x7F800000u)}));
    auto ckpt = f.write();
    expect_error([&] { bind_linear(ckpt, q, "p", 4, 4); }, {"'p.weight_scale_inv' holds a non-finite scale at index 0"});
  }
  {
    LinearFixture f;
    f.add("p.weight", DType::kF8_E4M3, {4, 4});
    auto ckpt = f.write();
    expect_error([&] { bind_linear(ckpt, q, "p", 4, 4); }, {"FP8 tensor 'p.weight' has no 'p.weight_scale_inv'"});
  }
}

TEST(BindLinear, FloatWeightsAndNeverQuantizedModules) {
  LinearFixture f;
  f.add("model.layers.3.self_attn.q_a_proj.weight", DType::kBF16, {6, 4});
  f.add("model.layers.3.mlp.gate.weight", DType::kBF16, {8, 4});  // router: never quantized
  f.add("lm_head.weight", DType::kBF16, {10, 4});
  f.add("model.layers.3.mlp.down_proj.weight", DType::kBF16, {4, 4});
  f.add("odd.weight", DType::kI32, {2, 2});
  auto ckpt = f.write();
  QuantConfig q = nvfp4_config();
  WeightView attn = bind_linear(ckpt, q, "model.layers.3.self_attn.q_a_proj", 6, 4);
  EXPECT_EQ(attn.encoding, WeightEncoding::kBF16);
  EXPECT_EQ(attn.rows, 6);
  EXPECT_EQ(bind_linear(ckpt, q, "model.layers.3.mlp.gate", 8, 4).encoding, WeightEncoding::kBF16);
  EXPECT_EQ(bind_linear(ckpt, q, "lm_head", 10, 4).encoding, WeightEncoding::kBF16);
  expect_error([&] { bind_linear(ckpt, q, "model.layers.3.mlp.down_proj", 4, 4); },
               {"linear 'model.layers.3.mlp.down_proj' is stored BF16", "says it is nvfp4"});
  expect_error([&] { bind_linear(ckpt, q, "odd", 2, 2); }, {"'odd.weight' has dtype I32, which is not a linear weight"});
  EXPECT_EQ(bind_linear(ckpt, QuantConfig{}, "model.layers.3.mlp.down_proj", 4, 4).encoding, WeightEncoding::kBF16);
}

TEST(BindLinear, HeaderOnlyCheckpointCannotBind) {
  LinearFixture f;
  f.add("p.weight", DType::kBF16, {2, 2});
  f.write();
  auto ckpt = HfCheckpoint::open(f.dir.path(), HfCheckpoint::Mode::kHeaderOnly);
  expect_error([&] { bind_linear(ckpt, QuantConfig{}, "p", 2, 2); }, {"'p.weight' was opened without its data"});
}

}  // namespace
}  // namespace fp4::io
