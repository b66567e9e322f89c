// Whole models on the GPU (`--device cuda`): the same families, checkpoints and results as
// model::Model::load, with the weights in device memory in their stored encodings, the KV cache in
// device memory (Model::kv_on_device), and every op of the forward pass on the CUDA backend. Logits come
// back to the host for the rows a step wants. docs/cuda-model.md describes the design and its limits.
#pragma once

#include <memory>
#include <string>

#include "fp4/base/thread_pool.h"
#include "fp4/io/model_config.h"
#include "fp4/model/model.h"

namespace fp4::model_cuda {

// Loads the folder like model::Model::load and uploads the weights to GPU 0. Throws fp4::Error naming the
// field or tensor (the CPU loader's checks), or the GPU problem (none visible, not Hopper, out of memory).
// The pool serves the host side of a step (embedding lookups, MoE routing).
std::unique_ptr<model::Model> load_cuda_model(const std::string& dir, ThreadPool& pool);

std::unique_ptr<model::Model> make_cuda_llama(const std::string& dir, io::ModelConfig config, ThreadPool& pool);
std::unique_ptr<model::Model> make_cuda_deepseek(const std::string& dir, io::ModelConfig config, ThreadPool& pool);

}  // namespace fp4::model_cuda
