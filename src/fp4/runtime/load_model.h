// Loading a model folder onto a device: the CPU models (model::Model::load) or the GPU models
// (model_cuda::load_cuda_model, in builds that have the CUDA backend). Everything that serves or runs a
// model (ServedModel, `fp4serve generate`, `bench`) picks the device through this.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "fp4/base/thread_pool.h"
#include "fp4/model/model.h"

namespace fp4::runtime {

enum class Device : uint8_t { kCpu, kCuda };

// "cpu" or "cuda"; anything else throws fp4::Error naming the accepted values.
Device parse_device(std::string_view name);
const char* device_name(Device device);
// Whether this build has the CUDA backend (nvcc was found at build time).
bool cuda_built();

// Throws fp4::Error naming the field or tensor (the loaders' checks), and for kCuda in a build without
// the backend: "this fp4serve was built without CUDA (nvcc not found at build time)".
std::unique_ptr<model::Model> load_model(const std::string& dir, ThreadPool& pool, Device device = Device::kCpu);

}  // namespace fp4::runtime
