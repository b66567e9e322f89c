// Bit-for-bit comparison with NVIDIA ModelOpt's NVFP4 tensor quantizer (NVFP4QTensor.quantize), on the
// golden tensors tools/modelopt_goldens.py recorded (tests/golden/modelopt/).
#include <gtest/gtest.h>

#include <bit>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fp4/base/formats.h"
#include "fp4/io/safetensors.h"
#include "fp4/quant/nvfp4_codec.h"

namespace fp4::quant {
namespace {

const std::string kGolden = std::string(FP4_SOURCE_DIR) + "/tests/golden/modelopt/nvfp4_modelopt.safetensors";

std::vector<float> input_f32(const io::TensorView& v) {
  const uint16_t* p = v.as<uint16_t>(DType::kBF16);
  std::vector<float> out(static_cast<size_t>(v.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_f32(p[i]);
  return out;
}

std::vector<std::string> case_names(const io::SafetensorsFile& f) {
  std::vector<std::string> names;
  for (const auto& t : f.tensors()) {
    if (t.name.ends_with(".input")) names.push_back(t.name.substr(0, t.name.size() - 6));
  }
  return names;
}

TEST(ModelOptGolden, RecordsTheModelOptVersionAndEnoughCases) {
  auto f = io::SafetensorsFile::open(kGolden);
  ASSERT_TRUE(f->metadata().count("modelopt"));
  EXPECT_EQ(f->metadata().at("modelopt"), "0.47.0");
  std::set<std::vector<int64_t>> shapes;
  for (const auto& name : case_names(*f)) shapes.insert(f->view(name + ".input").shape());
  EXPECT_GE(shapes.size(), 3u);
}

TEST(ModelOptGolden, CodesAndScalesAreBitIdentical) {
  auto f = io::SafetensorsFile::open(kGolden);
  // Fused pairs ("<pair>.gate" / "<pair>.up") share the scale computed from the larger amax.
  std::map<std::string, float> pair_amax;
  for (const auto& name : case_names(*f)) {
    const auto dot = name.rfind('.');
    if (dot == std::string::npos) continue;
    const auto w = input_f32(f->view(name + ".input"));
    float& a = pair_amax[name.substr(0, dot)];
    a = std::max(a, abs_max(w));
  }
  int compared = 0;
  bool saw_zero_block = false, saw_clamped_block = false, saw_ragged = false;
  for (const auto& name : case_names(*f)) {
    SCOPED_TRACE(name);
    const io::TensorView in = f->view(name + ".input");
    const int64_t rows = in.dim(0), cols = in.dim(1);
    const auto w = input_f32(in);
    const auto dot = name.rfind('.');
    const float amax = dot == std::string::npos ? abs_max(w) : pair_amax.at(name.substr(0, dot));
    // The goldens were made with ModelOpt on the CPU: true division.
    const float scale_2 = nvfp4_global_scale(amax, GlobalScaleArith::kTrueDivision);

    std::vector<uint8_t> packed(static_cast<size_t>(rows * cols / 2)), scales(static_cast<size_t>(rows * cols / 16));
    nvfp4_encode_rows(w.data(), rows, cols, scale_2, BlockScaleCast::kClamped, packed.data(), scales.data());

    const float golden_scale_2 = *f->view(name + ".weight_scale_2").as<float>(DType::kF32);
    EXPECT_EQ(std::bit_cast<uint32_t>(scale_2), std::bit_cast<uint32_t>(golden_scale_2));
    const io::TensorView gw = f->view(name + ".weight");
    const io::TensorView gs = f->view(name + ".weight_scale");
    ASSERT_EQ(gw.shape(), (std::vector<int64_t>{rows, cols / 2}));
    ASSERT_EQ(gs.shape(), (std::vector<int64_t>{rows, cols / 16}));
    const uint8_t* gwp = gw.as<uint8_t>(DType::kU8);
    const uint8_t* gsp = gs.as<uint8_t>(DType::kF8_E4M3);
    int64_t bad_codes = 0, bad_scales = 0;
    for (size_t i = 0; i < packed.size(); ++i) bad_codes += packed[i] != gwp[i];
    for (size_t i = 0; i < scales.size(); ++i) {
      bad_scales += scales[i] != gsp[i];
      float block_amax = abs_max({w.data() + i * 16, 16});
      saw_zero_block |= block_amax == 0.0f;
      saw_clamped_block |= block_amax > 0.0f && block_amax / (6.0f * scale_2) < kE4M3MinSubnormal;
    }
    EXPECT_EQ(bad_codes, 0) << "packed bytes differing from ModelOpt";
    EXPECT_EQ(bad_scales, 0) << "block scales differing from ModelOpt";
    saw_ragged |= rows % 8 != 0;
    ++compared;
  }
  EXPECT_GE(compared, 3);
  // The goldens must exercise the edges the acceptance asks for.
  EXPECT_TRUE(saw_zero_block);
  EXPECT_TRUE(saw_clamped_block);
  EXPECT_TRUE(saw_ragged);
}

}  // namespace
}  // namespace fp4::quant
