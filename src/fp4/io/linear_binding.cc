// bind_linear: a linear's checkpoint tensors → fp4::WeightView, with every dtype, shape and scalar checked.
#include <fmt/ranges.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "fp4/base/error.h"
#include "fp4/io/hf_checkpoint.h"
#include "fp4/io/quant_config.h"

namespace fp4::io {
namespace {

std::string shape_text(const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Linears that neither DeepSeek's FP8 release nor ModelOpt ever quantize, yet that quantization configs
// do not list: the MoE router (a Linear in HF, a `Gate` in DeepSeek's code), the output heads, and the
// MTP projection. They may be stored in a float dtype whatever the config says.
bool never_quantized(std::string_view module) {
  auto ends_with_part = [&](std::string_view tail) {
    return module == tail || (module.size() > tail.size() && module.ends_with(tail) &&
                              module[module.size() - tail.size() - 1] == '.');
  };
  return ends_with_part("lm_head") || ends_with_part("mlp.gate") || ends_with_part("shared_head.head") ||
         ends_with_part("eh_proj") || module.find("router") != std::string_view::npos;
}

void check_shape(const TensorView& t, const std::vector<int64_t>& expected) {
  FP4_CHECK(t.shape() == expected, "{}: tensor '{}' has shape {}, expected {}", *t.file, t.name(),
            shape_text(t.shape()), shape_text(expected));
}

void check_dtype(const TensorView& t, DType expected, std::string_view role) {
  FP4_CHECK(t.dtype() == expected, "{}: tensor '{}' ({}) has dtype {}, expected {}", *t.file, t.name(), role,
            dtype_name(t.dtype()), dtype_name(expected));
}

// A per-tensor F32 scale stored as shape [] or [1]; must be finite and positive.
float read_scalar_scale(const TensorView& t, std::string_view role) {
  check_dtype(t, DType::kF32, role);
  FP4_CHECK(t.numel() == 1 && t.rank() <= 1, "{}: tensor '{}' ({}) has shape {}, expected a scalar [] or [1]",
            *t.file, t.name(), role, shape_text(t.shape()));
  FP4_CHECK(t.data != nullptr, "{}: tensor '{}' was opened without its data", *t.file, t.name());
  float v;
  std::memcpy(&v, t.data, sizeof v);  // safetensors data need not be 4-byte aligned
  FP4_CHECK(std::isfinite(v) && v > 0, "{}: tensor '{}' ({}) is {}, expected a finite positive scale", *t.file,
            t.name(), role, v);
  return v;
}

void check_expected_dims(std::string_view module, int64_t rows, int64_t cols, int64_t want_rows, int64_t want_cols,
                         const TensorView& w) {
  FP4_CHECK((want_rows < 0 || rows == want_rows) && (want_cols < 0 || cols == want_cols),
            "{}: linear '{}' is [{}, {}] (tensor '{}' {} {}), the model expects [{}, {}]", *w.file, module, rows, cols,
            w.name(), dtype_name(w.dtype()), shape_text(w.shape()), want_rows, want_cols);
}

// Kernels read elements in place, so each must sit on its natural alignment. Files written by the
// safetensors library and by our writer are laid out that way (8-aligned data section, widest first).
void check_aligned(const TensorView& t) {
  size_t align = dtype_size(t.dtype());
  FP4_CHECK(reinterpret_cast<uintptr_t>(t.data) % align == 0,
            "{}: tensor '{}' ({}) starts at a data offset that is not a multiple of {}; rewrite the file aligned",
            *t.file, t.name(), dtype_name(t.dtype()), align);
}

}  // namespace

WeightView bind_linear(const HfCheckpoint& ckpt, const QuantConfig& quant, std::string_view module, int64_t rows,
                       int64_t cols) {
  const std::string prefix(module);
  const std::string weight_name = prefix + ".weight";
  FP4_CHECK(ckpt.contains(weight_name), "checkpoint {}: linear '{}' has no tensor '{}'", ckpt.dir(), module,
            weight_name);
  TensorView w = ckpt.view(weight_name);
  FP4_CHECK(w.data != nullptr, "{}: tensor '{}' was opened without its data", *w.file, w.name());
  FP4_CHECK(w.rank() == 2, "{}: tensor '{}' has shape {}, expected a 2-D [out, in] weight", *w.file, w.name(),
            shape_text(w.shape()));
  const LinearQuant expected = quant.resolve(module);
  const std::string config_source = quant.source.empty() ? std::string("the checkpoint's config") : quant.source;
  auto companion = [&](const char* suffix) { return ckpt.find(prefix + suffix) != nullptr; };

  WeightView view;
  view.data = w.data;
  switch (w.dtype()) {
    case DType::kU8: {  // NVFP4: two E2M1 codes per byte
      FP4_CHECK(companion(".weight_scale"), "{}: tensor '{}' is U8 but '{}.weight_scale' is missing (not NVFP4?)",
                *w.file, w.name(), module);
      FP4_CHECK(expected == LinearQuant::kNVFP4, "{}: linear '{}' is stored NVFP4, but {} says it is {}", *w.file,
                module, config_source, linear_quant_name(expected));
      view.encoding = WeightEncoding::kNVFP4;
      view.rows = w.dim(0);
      view.cols = w.dim(1) * 2;
      check_expected_dims(module, view.rows, view.cols, rows, cols, w);
      FP4_CHECK(view.cols % 16 == 0, "{}: tensor '{}' has {} input features, expected a multiple of 16 for NVFP4",
                *w.file, w.name(), view.cols);
      TensorView scale = ckpt.view(prefix + ".weight_scale");
      check_dtype(scale, DType::kF8_E4M3, "NVFP4 block scale");
      check_shape(scale, {view.rows, view.cols / 16});
      FP4_CHECK(scale.data != nullptr, "{}: tensor '{}' was opened without its data", *scale.file, scale.name());
      view.block_scale = scale.data;
      FP4_CHECK(companion(".weight_scale_2"), "{}: NVFP4 linear '{}' has no '{}.weight_scale_2'", *w.file, module,
                module);
      view.global_scale = read_scalar_scale(ckpt.view(prefix + ".weight_scale_2"), "NVFP4 global scale");
      view.input_scale =
          companion(".input_scale") ? read_scalar_scale(ckpt.view(prefix + ".input_scale"), "input scale") : 0.0f;
      return view;
    }
    case DType::kF8_E4M3: {  // DeepSeek FP8 block
      FP4_CHECK(companion(".weight_scale_inv"), "{}: FP8 tensor '{}' has no '{}.weight_scale_inv'", *w.file, w.name(),
                module);
      FP4_CHECK(expected == LinearQuant::kFP8Block, "{}: linear '{}' is stored FP8 block, but {} says it is {}",
                *w.file, module, config_source, linear_quant_name(expected));
      view.encoding = WeightEncoding::kFP8Block;
      view.rows = w.dim(0);
      view.cols = w.dim(1);
      check_expected_dims(module, view.rows, view.cols, rows, cols, w);
      view.block_rows = quant.block_rows;
      view.block_cols = quant.block_cols;
      TensorView scale = ckpt.view(prefix + ".weight_scale_inv");
      check_dtype(scale, DType::kF32, "FP8 block scale");
      check_shape(scale, {ceil_div(view.rows, quant.block_rows), ceil_div(view.cols, quant.block_cols)});
      FP4_CHECK(scale.data != nullptr, "{}: tensor '{}' was opened without its data", *scale.file, scale.name());
      check_aligned(scale);
      // Scales are 1/16384 of the weight bytes: checking them all is cheap and catches corrupt files.
      const auto* s = scale.data;
      for (int64_t i = 0; i < scale.numel(); ++i) {
        float v;
        std::memcpy(&v, s + 4 * i, sizeof v);
        FP4_CHECK(std::isfinite(v), "{}: tensor '{}' holds a non-finite scale at index {}", *scale.file, scale.name(),
                  i);
      }
      view.block_scale_inv = reinterpret_cast<const float*>(scale.data);
      return view;
    }
    case DType::kBF16:
    case DType::kF16:
    case DType::kF32: {
      FP4_CHECK(expected == LinearQuant::kUnquantized || never_quantized(module),
                "{}: linear '{}' is stored {}, but {} says it is {} (and it is not in the exclude list)", *w.file,
                module, dtype_name(w.dtype()), config_source, linear_quant_name(expected));
      FP4_CHECK(!companion(".weight_scale") && !companion(".weight_scale_inv"),
                "{}: tensor '{}' is {} but has quantization scales beside it", *w.file, w.name(),
                dtype_name(w.dtype()));
      view.encoding = w.dtype() == DType::kBF16  ? WeightEncoding::kBF16
                      : w.dtype() == DType::kF16 ? WeightEncoding::kF16
                                                 : WeightEncoding::kF32;
      view.rows = w.dim(0);
      view.cols = w.dim(1);
      check_expected_dims(module, view.rows, view.cols, rows, cols, w);
      check_aligned(w);
      return view;
    }
    default:
      fail("{}: tensor '{}' has dtype {}, which is not a linear weight encoding (BF16, F16, F32, F8_E4M3, U8)",
           *w.file, w.name(), dtype_name(w.dtype()));
  }
}

}  // namespace fp4::io
