#include "fp4/runtime/load_model.h"

#include "fp4/base/error.h"

#ifdef FP4_HAVE_CUDA
#include "fp4/model_cuda/cuda_model.h"
#endif

namespace fp4::runtime {

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  fail("--device: '{}' is not a device; expected cpu or cuda", name);
}

const char* device_name(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

bool cuda_built() {
#ifdef FP4_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::unique_ptr<model::Model> load_model(const std::string& dir, ThreadPool& pool, Device device) {
  if (device == Device::kCpu) return model::Model::load(dir, pool);
#ifdef FP4_HAVE_CUDA
  return model_cuda::load_cuda_model(dir, pool);
#else
  fail("this fp4serve was built without CUDA (nvcc not found at build time)");
#endif
}

}  // namespace fp4::runtime
