// Small helpers shared by the model families' forward passes.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>

#include "fp4/model/model.h"

namespace fp4::model {

// Hands a named intermediate to the --dump-tensors hook. `name` is only built when a hook is set.
template <typename NameFn>
void dump_tensor(const ForwardOptions& options, NameFn&& name, std::initializer_list<int64_t> shape,
                 const float* data) {
  if (options.dump == nullptr) return;
  const std::string n = name();
  (*options.dump)(n, std::span<const int64_t>(shape.begin(), shape.size()), data);
}

// Checks the token ids and the cache capacity before any compute (user input: one error line).
void check_forward_inputs(std::span<const int32_t> tokens, int64_t pos0, const KvSequenceView& kv, int64_t vocab,
                          int64_t row_floats);

// Runs a batch one sequence at a time through `one` (a single-sequence forward with the all_logits
// switch), writing each sequence's wanted logit rows in batch order.
using SingleForwardFn = std::function<void(std::span<const int32_t> tokens, int64_t pos0, const KvSequenceView& kv,
                                           const ForwardOptions& options, float* logits)>;
void forward_each(std::span<const BatchSequence> batch, const ForwardOptions& options, float* logits,
                  const SingleForwardFn& one, int64_t vocab);

}  // namespace fp4::model
