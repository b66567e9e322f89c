#include "fp4/model/forward_util.h"

#include "fp4/base/error.h"

#include <vector>

namespace fp4::model {

void check_forward_inputs(std::span<const int32_t> tokens, int64_t pos0, const KvSequenceView& kv, int64_t vocab,
                          int64_t row_floats) {
  FP4_CHECK(!tokens.empty(), "forward: no tokens given");
  FP4_CHECK(pos0 >= 0, "forward: start position {} is negative", pos0);
  for (size_t i = 0; i < tokens.size(); ++i) {
    FP4_CHECK(tokens[i] >= 0 && tokens[i] < vocab, "forward: token {} (index {}) is outside the vocabulary [0, {})",
              tokens[i], i, vocab);
  }
  FP4_CHECK(kv.layer_base != nullptr && kv.block_table != nullptr && kv.block_size > 0,
            "forward: the KV cache view is empty");
  FP4_CHECK(kv.row_floats == row_floats, "forward: the KV cache rows hold {} floats, the model needs {}",
            kv.row_floats, row_floats);
  const int64_t need = pos0 + static_cast<int64_t>(tokens.size());
  FP4_CHECK(kv.capacity() >= need, "forward: the KV cache holds {} tokens, positions up to {} are needed",
            kv.capacity(), need);
}

void forward_each(std::span<const BatchSequence> batch, const ForwardOptions& options, float* logits,
                  const SingleForwardFn& one, int64_t vocab) {
  ForwardOptions o = options;
  std::vector<float> discard;
  for (const BatchSequence& s : batch) {
    o.all_logits = s.logits == BatchSequence::Logits::kAll;
    if (s.logits == BatchSequence::Logits::kNone) {
      discard.resize(static_cast<size_t>(vocab));  // [1, vocab] the chunk's last-token logits, unused
      one(s.tokens, s.pos0, s.kv, o, discard.data());
      continue;
    }
    one(s.tokens, s.pos0, s.kv, o, logits);
    logits += (o.all_logits ? static_cast<int64_t>(s.tokens.size()) : 1) * vocab;
  }
}

}  // namespace fp4::model
