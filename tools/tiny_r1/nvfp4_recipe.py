"""The arithmetic of `fp4serve quantize --format nvfp4` (default recipe) on tiny-r1, in torch.

Three users:
  * train.py fake-quantizes the recipe's linears in the forward pass (quantization-aware
    training, straight-through gradients), with `fake_quantize_fp8_then_nvfp4`;
  * evaluate.py measures the NVFP4 model without the C++ quantizer, from the FP8 release
    (`simulated_nvfp4_state`), or from a folder the quantizer wrote (`read_nvfp4_folder`);
  * `python3 tools/tiny_r1/nvfp4_recipe.py --release R --quantized Q` checks that the two agree
    bit for bit, which is what makes the simulated figures figures of the real file.

What the default recipe (r1-fp4) does to a DeepSeek FP8 block checkpoint:
  * quantized to NVFP4: every linear under `model.layers.N.mlp.` (the dense MLP, routed and
    shared experts) except the router `mlp.gate`;
  * every other FP8 linear (attention) is dequantized and stored as BF16;
  * embeddings, norms, router, lm_head and the correction biases are copied.

Per quantized linear (all in float32, as the quantizer does it):
  w      = bf16(f32(fp8 code) * scale_inv)            FP8 block weight read back, rounded to BF16
  s2     = amax * f32(1/2688)                          weight_scale_2; amax over the fused group
                                                       (gate_proj and up_proj of one MLP share it)
  sb     = amax16 / f32(6 * s2)                        per 16 consecutive inputs of a row
  sb     = 1 where amax16 == 0; clamp to [2^-9, 448]; e4m3 round-to-nearest-even
  q      = e2m1_rne(w / f32(sb * s2))                  ties to even, |x| > 5 saturates to 6
  w_hat  = f32(sb * s2) * q
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

GROUP = 16                      # NVFP4 elements per block scale
FP8_BLOCK = 128                 # DeepSeek FP8 weight blocks
E4M3_MAX = 448.0
E4M3_MIN_SUBNORMAL = 2.0 ** -9
E2M1_MAX = 6.0
# f32(1 / 2688): weight_scale_2 is amax times this reciprocal (the quantizer's default, matching
# ModelOpt run on a GPU).
GLOBAL_RECIPROCAL = torch.tensor(1.0 / (E2M1_MAX * E4M3_MAX), dtype=torch.float32)

_LAYER = re.compile(r"^model\.layers\.(\d+)\.")
_FUSED = {"gate_proj": "gate_up", "up_proj": "gate_up"}   # siblings sharing weight_scale_2


def recipe_selects(name: str, num_hidden_layers: int) -> bool:
    """Whether the default recipe quantizes linear `name` (a module name, no '.weight')."""
    if name.endswith("lm_head") or "embed" in name or name.endswith(".mlp.gate") or "router" in name:
        return False
    match = _LAYER.match(name)
    if not match or int(match.group(1)) >= num_hidden_layers:
        return False
    return ".mlp." in name


# ----------------------------------------------------------------------------- elementwise casts

def e2m1_rne(x: torch.Tensor) -> torch.Tensor:
    """x (float32, any shape) rounded to the nearest E2M1 value, ties to the even mantissa.

    Magnitudes: (0, 0.25] -> 0, (0.25, 0.75) -> 0.5, [0.75, 1.25] -> 1, (1.25, 1.75) -> 1.5,
    [1.75, 2.5] -> 2, (2.5, 3.5) -> 3, [3.5, 5] -> 4, (5, inf) -> 6.  The sign is kept.
    """
    a = x.abs()
    q = torch.full_like(a, 6.0)
    q = torch.where(a <= 5.0, torch.full_like(a, 4.0), q)
    q = torch.where(a < 3.5, torch.full_like(a, 3.0), q)
    q = torch.where(a <= 2.5, torch.full_like(a, 2.0), q)
    q = torch.where(a < 1.75, torch.full_like(a, 1.5), q)
    q = torch.where(a <= 1.25, torch.full_like(a, 1.0), q)
    q = torch.where(a < 0.75, torch.full_like(a, 0.5), q)
    q = torch.where(a <= 0.25, torch.zeros_like(a), q)
    return torch.copysign(q, x)


def e4m3_rne(x: torch.Tensor) -> torch.Tensor:
    """x (float32, already inside [-448, 448]) rounded to E4M3 and read back as float32."""
    return x.to(torch.float8_e4m3fn).to(torch.float32)


# ----------------------------------------------------------------------------- FP8 block round trip

def fp8_block_roundtrip(w: torch.Tensor) -> torch.Tensor:
    """w [..., R, C] float32 -> the FP8 block release's dequantized value, as export_fp8 writes it.

    Scale = amax(128 x 128 block) / 448 (1 for an all-zero block), code = e4m3(w / scale),
    read back as f32(code) * scale.  R and C must be multiples of 128 (true for every tiny-r1
    linear the recipe touches).
    """
    *lead, rows, cols = w.shape
    if rows % FP8_BLOCK or cols % FP8_BLOCK:
        raise ValueError(f"fp8_block_roundtrip: shape {list(w.shape)} is not a multiple of {FP8_BLOCK}")
    blocks = w.reshape(*lead, rows // FP8_BLOCK, FP8_BLOCK, cols // FP8_BLOCK, FP8_BLOCK)
    amax = blocks.abs().amax(dim=(-3, -1), keepdim=True)                    # [..., R/128, 1, C/128, 1]
    scale = torch.where(amax > 0, amax / E4M3_MAX, torch.ones_like(amax))
    codes = (blocks / scale).clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn)
    return (codes.to(torch.float32) * scale).reshape(w.shape)


# ----------------------------------------------------------------------------- NVFP4 round trip

def nvfp4_global_scale(amax: torch.Tensor) -> torch.Tensor:
    """weight_scale_2 for a fused group's amax (float32 tensor of any shape); 1 where amax is 0."""
    amax = amax.to(torch.float32)
    return torch.where(amax > 0, amax * GLOBAL_RECIPROCAL.to(amax.device), torch.ones_like(amax))


def nvfp4_roundtrip(w: torch.Tensor, scale_2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """w [..., R, C] float32 (C % 16 == 0), scale_2 [..., 1, 1] float32 (one per leading index).

    Returns (decoded [..., R, C], E2M1 values [..., R, C], block scales [..., R, C/16] as float32).
    """
    *lead, rows, cols = w.shape
    if cols % GROUP or scale_2.dim() != w.dim():
        raise ValueError(f"nvfp4_roundtrip: weight {list(w.shape)} with scale_2 {list(scale_2.shape)}")
    blocks = w.reshape(*lead, rows, cols // GROUP, GROUP)                    # [..., R, C/16, 16]
    s2 = scale_2.to(torch.float32).unsqueeze(-1)                              # [..., 1, 1, 1]
    block_amax = blocks.abs().amax(dim=-1, keepdim=True)                     # [..., R, C/16, 1]
    denominator = (E2M1_MAX * s2).to(torch.float32)                           # f32(6 * s2)
    sb = block_amax / denominator
    sb = torch.where(sb == 0, torch.ones_like(sb), sb).clamp(E4M3_MIN_SUBNORMAL, E4M3_MAX)
    sb = e4m3_rne(sb)
    step = sb * s2                                                            # f32(sb * s2)
    values = e2m1_rne(blocks / step)
    decoded = step * values
    return decoded.reshape(w.shape), values.reshape(w.shape), sb.reshape(*lead, rows, cols // GROUP)


def fake_quantize_group(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """What linear weights [..., R, C] of one fused group become after the FP8 export and
    `fp4serve quantize`: FP8 block round trip, BF16, then NVFP4 with one weight_scale_2 per
    leading index shared by the group (pass [gate, up] of one MLP together, or a fused
    [E, 2I, H] gate_up tensor alone).  No gradient flows through: callers add the difference
    as a straight-through estimate (w + (fq(w) - w).detach()).
    """
    with torch.no_grad():
        read_back = [fp8_block_roundtrip(w.float()).to(torch.bfloat16).to(torch.float32) for w in weights]
        amax = torch.stack([w.abs().amax(dim=(-2, -1)) for w in read_back]).amax(dim=0)   # [...]
        scale_2 = nvfp4_global_scale(amax).reshape(*amax.shape, 1, 1)
        return [nvfp4_roundtrip(w, scale_2)[0] for w in read_back]


# ----------------------------------------------------------------------------- whole checkpoints

def _fused_key(module: str) -> str:
    parent, leaf = module.rsplit(".", 1)
    return f"{parent}.{_FUSED.get(leaf, leaf)}"


def simulated_nvfp4_state(release_dir: str, num_hidden_layers: int | None = None) -> dict[str, torch.Tensor]:
    """DeepSeek-named float32 tensors of the model `fp4serve quantize R OUT --format nvfp4` makes.

    Computed on the CPU from the FP8 release's file (the same f32 arithmetic as the quantizer).
    """
    import export_fp8
    from safetensors.torch import load_file

    if num_hidden_layers is None:
        with open(os.path.join(release_dir, "config.json")) as f:
            num_hidden_layers = json.load(f)["num_hidden_layers"]
    raw = load_file(os.path.join(release_dir, "model.safetensors"))
    state: dict[str, torch.Tensor] = {}
    selected: dict[str, torch.Tensor] = {}
    for name, tensor in raw.items():
        if name.endswith(".weight_scale_inv"):
            continue
        if tensor.dtype == torch.float8_e4m3fn:
            scale_inv = raw[name.replace(".weight", ".weight_scale_inv")]
            w = export_fp8.dequantize_fp8_block(tensor, scale_inv).to(torch.bfloat16).to(torch.float32)
            module = name[: -len(".weight")]
            if recipe_selects(module, num_hidden_layers):
                selected[module] = w
            else:
                state[name] = w                                  # attention: FP8 -> BF16
        else:
            state[name] = tensor.float()
    group_amax: dict[str, torch.Tensor] = {}
    for module, w in selected.items():
        key = _fused_key(module)
        amax = w.abs().max()
        group_amax[key] = torch.maximum(group_amax[key], amax) if key in group_amax else amax
    for module, w in selected.items():
        scale_2 = nvfp4_global_scale(group_amax[_fused_key(module)])
        decoded, _, _ = nvfp4_roundtrip(w, scale_2.reshape(1, 1))
        state[module + ".weight"] = decoded
    return state


E2M1_TABLE = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def read_nvfp4_folder(folder: str) -> dict[str, torch.Tensor]:
    """DeepSeek-named float32 tensors of a ModelOpt-style NVFP4 folder (as `fp4serve quantize` writes).

    weight U8 [N, K/2] (even k in the low nibble), weight_scale E4M3 [N, K/16], weight_scale_2
    F32 []: W = f32(scale * scale_2) * e2m1(code).  input_scale is not used (weights only).
    """
    from safetensors.torch import load_file

    raw: dict[str, torch.Tensor] = {}
    for file in sorted(os.listdir(folder)):
        if file.endswith(".safetensors"):
            raw.update(load_file(os.path.join(folder, file)))
    state: dict[str, torch.Tensor] = {}
    for name, tensor in raw.items():
        if name.endswith((".weight_scale", ".weight_scale_2", ".input_scale")):
            continue
        if tensor.dtype == torch.uint8 and name.endswith(".weight"):
            module = name[: -len(".weight")]
            scales = raw.get(module + ".weight_scale")
            scale_2 = raw.get(module + ".weight_scale_2")
            if scales is None or scale_2 is None:
                raise ValueError(f"{folder}: NVFP4 weight {name} lacks {module}.weight_scale or .weight_scale_2")
            rows, half = tensor.shape
            codes = torch.stack([tensor & 0xF, tensor >> 4], dim=-1).reshape(rows, half * 2).long()  # [N, K]
            if scales.shape != (rows, half * 2 // GROUP):
                raise ValueError(f"{folder}: {module}.weight_scale has shape {list(scales.shape)}, "
                                 f"expected [{rows}, {half * 2 // GROUP}]")
            step = scales.to(torch.float32) * scale_2.to(torch.float32)             # [N, K/16]
            state[name] = step.repeat_interleave(GROUP, dim=1) * E2M1_TABLE[codes]
        else:
            state[name] = tensor.float()
    return state


def compare_states(expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> dict:
    """Names and bitwise agreement of two float32 states (for the simulated-vs-file check)."""
    if set(expected) != set(got):
        return {"identical": False, "only_expected": sorted(set(expected) - set(got))[:5],
                "only_got": sorted(set(got) - set(expected))[:5]}
    def bits(t: torch.Tensor) -> torch.Tensor:
        return t.contiguous().view(torch.int32) if t.dtype == torch.float32 else t

    differing = [n for n in expected if expected[n].shape != got[n].shape or not torch.equal(bits(expected[n]), bits(got[n]))]
    return {"identical": not differing, "tensors": len(expected), "differing": differing[:10],
            "differing_count": len(differing)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", required=True, help="FP8 block release folder")
    parser.add_argument("--quantized", required=True, help="what `fp4serve quantize RELEASE OUT --format nvfp4` wrote")
    args = parser.parse_args()
    result = compare_states(simulated_nvfp4_state(args.release), read_nvfp4_folder(args.quantized))
    print(json.dumps(result))
    sys.exit(0 if result["identical"] else 1)


if __name__ == "__main__":
    main()
