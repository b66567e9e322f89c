// Turning CUDA and cuBLAS status codes into fp4::Error (host code only).
#pragma once

#include <cuda_runtime_api.h>

#include "fp4/base/error.h"

namespace fp4::cuda {

// Throws fp4::Error "CUDA error in <what>: <name> (<description>)" unless err is cudaSuccess.
inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) fail("CUDA error in {}: {} ({})", what, cudaGetErrorName(err), cudaGetErrorString(err));
}

}  // namespace fp4::cuda
