// Choosing the split of K for the tensor-core matmuls (host side, shared by the NVFP4 and FP8 paths).
#pragma once

#include <algorithm>
#include <cstddef>

#include "kernels.h"

namespace fp4::cuda::detail {

// A grid of ceil(N/tile_n) × ceil(M/tile_m) blocks is split along K until there are about two blocks per
// SM (eight for the 16-row tile, whose blocks are small: eight fit on an SM), enough weight bytes in flight for the
// memory-bound small-M shapes, keeping at least two k-tiles of 64 per slice. split_request > 0 forces a
// split (clamped to the number of k-tiles).
inline MmaPlan make_mma_plan(int M, int N, int K, int sm_count, int split_request, int tile_m, int tile_n) {
  MmaPlan plan;
  plan.tile_m = tile_m;
  plan.tile_n = tile_n;
  const int ktiles = (K + 63) / 64;
  const long blocks = static_cast<long>((N + tile_n - 1) / tile_n) * ((M + tile_m - 1) / tile_m);
  int split = 1;
  if (split_request > 0) {
    split = std::min(split_request, ktiles);
  } else {
    const long target = (tile_m == 16 ? 8L : 2L) * std::max(sm_count, 1);
    if (blocks < target) split = static_cast<int>((target + blocks - 1) / blocks);
    split = std::max(1, std::min({split, ktiles / 2, 64}));
  }
  plan.split = split;
  plan.partial_bytes = split > 1 ? static_cast<size_t>(split) * M * N * sizeof(float) : 0;
  return plan;
}

}  // namespace fp4::cuda::detail
