// Top-k selection over one row (MoE routing, sampling).
//
// Order and ties (documented contract): the k results come sorted by value, largest first; among equal
// values the lower index comes first, so the chosen SET is "the k largest, ties broken toward lower
// index". torch.topk does not promise which of several tied elements it keeps; HF routing uses
// sorted=False and only the set matters, so preferring lower indices is the stable, reproducible choice.
// NaN compares greater than every number (as torch.topk treats it), so a NaN row is never silently
// dropped by the ranking. −0.0 and +0.0 are equal.
#pragma once

#include <cstdint>

namespace fp4::cpu {

// x: [n] f32; k ≤ n (k == 0 is allowed and writes nothing).
// indices: [k] positions into x; values: [k] x[indices[j]] (values may be nullptr).
// Throws fp4::Error when k < 0 or k > n.
void topk(const float* x, int64_t n, int64_t k, int32_t* indices, float* values);

namespace reference {
// Scalar reference: full stable sort of (value, index) pairs, then the first k.
void topk(const float* x, int64_t n, int64_t k, int32_t* indices, float* values);
}  // namespace reference

}  // namespace fp4::cpu
