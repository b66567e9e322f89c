#include "fp4/model_cuda/device_weights.h"

#include "fp4/backends/cuda/cuda_check.h"
#include "fp4/backends/cuda/cuda_ops.h"
#include "fp4/base/error.h"
#include "fp4/model_cuda/bias.h"

namespace fp4::model_cuda {
namespace {

uint64_t fp8_scale_count(const WeightView& w) {
  const auto grid = [](int64_t n, int32_t block) { return static_cast<uint64_t>((n + block - 1) / block); };
  return grid(w.rows, w.block_rows) * grid(w.cols, w.block_cols);
}

uint64_t payload_bytes(const WeightView& w) {
  const auto elems = static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.cols);
  switch (w.encoding) {
    case WeightEncoding::kF32: return elems * 4;
    case WeightEncoding::kBF16:
    case WeightEncoding::kF16: return elems * 2;
    case WeightEncoding::kFP8Block: return elems;
    case WeightEncoding::kNVFP4: return elems / 2;
  }
  return 0;
}

}  // namespace

uint64_t stored_bytes(const WeightView& w) {
  const auto elems = static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.cols);
  uint64_t bytes = payload_bytes(w);
  if (w.encoding == WeightEncoding::kFP8Block) bytes += fp8_scale_count(w) * sizeof(float);
  if (w.encoding == WeightEncoding::kNVFP4) bytes += elems / 16;
  return bytes;
}

WeightView upload_weight(DeviceArena& arena, const WeightView& w, const std::string& name) {
  FP4_CHECK(w.data != nullptr && w.rows > 0 && w.cols > 0, "GPU weights: {} has no data or an empty shape [{}, {}]",
            name, w.rows, w.cols);
  WeightView d = w;
  d.data = arena.upload(w.data, payload_bytes(w), name.c_str());
  if (w.encoding == WeightEncoding::kFP8Block) {
    FP4_CHECK(w.block_scale_inv != nullptr, "GPU weights: fp8-block {} has no weight_scale_inv", name);
    d.block_scale_inv = static_cast<const float*>(
        arena.upload(w.block_scale_inv, fp8_scale_count(w) * sizeof(float), name.c_str()));
  }
  if (w.encoding == WeightEncoding::kNVFP4) {
    FP4_CHECK(w.block_scale != nullptr, "GPU weights: nvfp4 {} has no weight_scale", name);
    const auto elems = static_cast<uint64_t>(w.rows) * static_cast<uint64_t>(w.cols);
    d.block_scale = static_cast<const uint8_t*>(arena.upload(w.block_scale, elems / 16, name.c_str()));
  }
  return d;
}

const float* upload_vector(DeviceArena& arena, const std::vector<float>& v, const std::string& name) {
  if (v.empty()) return nullptr;
  return arena.upload(std::span<const float>(v), name.c_str());
}

void DeviceLinear::apply(const float* x, int64_t M, float* y, cudaStream_t stream) const {
  cuda::matmul(w, x, cuda::ActDtype::kF32, M, y, stream);
  if (bias != nullptr) cuda::check_cuda(detail::launch_add_bias(y, bias, M, w.rows, stream), "add_bias kernel");
}

DeviceLinear upload_linear(DeviceArena& arena, const model::Linear& l) {
  DeviceLinear d;
  d.name = l.name;
  d.w = upload_weight(arena, l.w, l.name);
  d.bias = upload_vector(arena, l.bias, l.name + ".bias");
  return d;
}

void DeviceMlp::apply(const float* x, int64_t M, float* y, float* scratch, cudaStream_t stream) const {
  const int64_t I = intermediate();
  float* g = scratch;      // [M, I]
  float* u = g + M * I;    // [M, I]
  gate.apply(x, M, g, stream);
  up.apply(x, M, u, stream);
  cuda::silu_mul_rows(g, I, u, I, M, I, g, I, stream);
  down.apply(g, M, y, stream);
}

DeviceMlp upload_mlp(DeviceArena& arena, const model::GatedMlp& m) {
  return DeviceMlp{upload_linear(arena, m.gate), upload_linear(arena, m.up), upload_linear(arena, m.down)};
}

}  // namespace fp4::model_cuda
