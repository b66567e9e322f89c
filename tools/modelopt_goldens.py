#!/usr/bin/env python3
"""Golden NVFP4 tensors produced by NVIDIA ModelOpt's own tensor quantizer.

Runs `NVFP4QTensor.quantize` (modelopt.torch.quantization.qtensor.nvfp4_tensor) on small BF16 weights
and stores, per case, the input and what ModelOpt exports for it:

    <case>.input          BF16 [N, K]     the weight handed to ModelOpt
    <case>.weight         U8   [N, K/2]   packed E2M1 codes (even element in the low nibble)
    <case>.weight_scale   F8_E4M3 [N, K/16]
    <case>.weight_scale_2 F32  []         amax/(6*448), or the shared value for a fused pair

A case named `<pair>.gate` / `<pair>.up` is one fused gate/up pair: both halves are quantized with one
weight_scale_2 computed from the larger amax, as ModelOpt's exporter does for fused linears.

The C++ quantizer test (tests/unit/quant) compares its output with these tensors bit for bit. Run this on
the CPU: torch computes ModelOpt's `amax / 2688` there as a true division, whereas on CUDA it multiplies
by the f32 reciprocal (one ulp apart for about a quarter of amaxes; see docs/quantizer.md).

Usage (needs torch and nvidia-modelopt importable):
    python tools/modelopt_goldens.py --out tests/golden/modelopt/nvfp4_modelopt.safetensors
"""
from __future__ import annotations

import argparse
import platform

import numpy as np
import torch
from safetensors.torch import save_file

import modelopt
from modelopt.torch.quantization.qtensor.nvfp4_tensor import NVFP4QTensor

BLOCK = 16


def make_cases(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Float32 weights [N, K]; rounded to BF16 before quantization."""
    cases = {}
    # Ordinary linear weight, N(0, 1/K).
    cases["plain_32x64"] = rng.standard_normal((32, 64)) / 8.0
    # Ragged row count (37 is prime) and K = 3 blocks of 16.
    cases["ragged_37x48"] = rng.standard_normal((37, 48)) * 0.05
    # All-zero blocks (scale 1.0), a block whose scale falls below E4M3's smallest subnormal (clamped to
    # 2^-9), exact E2M1 midpoints (ties) and a lone outlier that sets the tensor amax.
    w = rng.standard_normal((5, 160)) * 0.02
    w[0, :16] = 0.0
    w[2, 32:64] = 0.0
    w[3, 16:32] = rng.standard_normal(16) * 1e-7
    w[4, 0] = 40.0
    w[1, 48:64] = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0] * 2) * 0.125
    cases["zeros_outlier_5x160"] = w
    # Wide dynamic range across rows (each row scaled by 2^-r).
    cases["range_24x32"] = rng.standard_normal((24, 32)) * (2.0 ** -np.arange(24))[:, None]
    # A fused gate/up pair whose amaxes differ by 4x.
    cases["fused.gate"] = rng.standard_normal((20, 64)) * 0.1
    cases["fused.up"] = rng.standard_normal((20, 64)) * 0.4
    return cases


def quantize(w: torch.Tensor, shared_scale_2: torch.Tensor | None):
    q, scale, scale_2 = NVFP4QTensor.quantize(w, BLOCK, weights_scaling_factor_2=shared_scale_2)
    return q._quantized_data, scale, scale_2.float().reshape(())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20260529)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    inputs = {k: torch.from_numpy(v.astype(np.float32)).to(torch.bfloat16) for k, v in make_cases(rng).items()}

    fused_amax = max(inputs["fused.gate"].abs().max(), inputs["fused.up"].abs().max()).float()
    shared = fused_amax / (6.0 * 448.0)  # ModelOpt's get_weights_scaling_factor_2 on the max amax

    tensors = {}
    for name, w in inputs.items():
        packed, scale, scale_2 = quantize(w, shared if name.startswith("fused.") else None)
        tensors[f"{name}.input"] = w.contiguous()
        tensors[f"{name}.weight"] = packed.contiguous()
        tensors[f"{name}.weight_scale"] = scale.contiguous()
        tensors[f"{name}.weight_scale_2"] = scale_2.clone()

    meta = {
        "producer": "tools/modelopt_goldens.py",
        "modelopt": modelopt.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "seed": str(args.seed),
        "block_size": str(BLOCK),
    }
    save_file(tensors, args.out, metadata=meta)
    print(f"wrote {len(tensors)} tensors to {args.out}: {meta}")


if __name__ == "__main__":
    main()
