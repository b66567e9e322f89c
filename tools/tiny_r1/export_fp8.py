"""Write the tiny-r1 release in DeepSeek's FP8 block format, and load it back dequantized.

    python3 tools/tiny_r1/export_fp8.py --state out/run/trained_state.pt --out models/tiny-r1

Format (DeepSeek-V3/R1, see the nvfp4_format spec §3): every linear of attention, the dense
MLP and the routed and shared experts is stored as float8_e4m3fn `weight` [out, in] plus a
float32 `weight_scale_inv` [ceil(out/128), ceil(in/128)] with W = fp32(W8) * scale_inv per
128 x 128 block; scale_inv = amax(block) / 448, so each block's largest magnitude maps to
e4m3's largest finite value.  Embeddings, lm_head, RMSNorm weights and the router weight are
BF16; e_score_correction_bias is FP32.  Routed experts use DeepSeek's per-expert names
(mlp.experts.E.{gate,up,down}_proj.weight); transformers fuses them when it loads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_config  # noqa: E402

BLOCK = 128
E4M3_MAX = 448.0
GENERATION_CONFIG = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2, "do_sample": True,
                     "temperature": 0.6, "top_p": 0.95}


def quantize_fp8_block(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """weight [out, in] float -> (fp8 e4m3 [out, in], scale_inv fp32 [ceil(out/128), ceil(in/128)])."""
    rows, cols = weight.shape
    brows, bcols = math.ceil(rows / BLOCK), math.ceil(cols / BLOCK)
    padded = torch.zeros(brows * BLOCK, bcols * BLOCK, dtype=torch.float32)
    padded[:rows, :cols] = weight.float()
    blocks = padded.view(brows, BLOCK, bcols, BLOCK)
    amax = blocks.abs().amax(dim=(1, 3))                                  # [brows, bcols]
    scale = torch.where(amax > 0, amax / E4M3_MAX, torch.ones_like(amax))
    scaled = (blocks / scale[:, None, :, None]).clamp(-E4M3_MAX, E4M3_MAX)
    q = scaled.to(torch.float8_e4m3fn).view(brows * BLOCK, bcols * BLOCK)[:rows, :cols]
    return q.contiguous(), scale.contiguous()


def dequantize_fp8_block(q: torch.Tensor, scale_inv: torch.Tensor) -> torch.Tensor:
    """Inverse of quantize_fp8_block up to e4m3 rounding: fp32 [out, in]."""
    rows, cols = q.shape
    expanded = scale_inv.repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)[:rows, :cols]
    return q.float() * expanded


def deepseek_named_tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers' state dict (fused experts) -> DeepSeek's names, fp32, per-expert weights."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        if name.endswith("experts.gate_up_proj"):          # [E, 2I, H]: gate rows first, then up
            prefix = name[: -len("gate_up_proj")]
            inter = tensor.shape[1] // 2
            for e in range(tensor.shape[0]):
                out[f"{prefix}{e}.gate_proj.weight"] = tensor[e, :inter].clone()
                out[f"{prefix}{e}.up_proj.weight"] = tensor[e, inter:].clone()
        elif name.endswith("experts.down_proj"):           # [E, H, I]
            prefix = name[: -len("down_proj")]
            for e in range(tensor.shape[0]):
                out[f"{prefix}{e}.down_proj.weight"] = tensor[e].clone()
        elif "rotary_emb" in name:
            continue
        else:
            out[name] = tensor.float()
    return out


def is_fp8_linear(name: str) -> bool:
    """Linears stored in FP8: attention projections, dense MLP, routed and shared experts.

    Every such weight ends in "_proj.weight" or is kv_a_proj_with_mqa; the router
    (mlp.gate.weight), embeddings and lm_head do not match and stay BF16.
    """
    return name.endswith("_proj.weight") or name.endswith(".kv_a_proj_with_mqa.weight")


def release_tensors(named: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for name, tensor in named.items():
        if name.endswith("e_score_correction_bias"):
            out[name] = tensor.float().contiguous()
        elif tensor.ndim == 2 and is_fp8_linear(name):
            q, scale = quantize_fp8_block(tensor)
            out[name] = q
            out[name.replace(".weight", ".weight_scale_inv")] = scale
        else:
            out[name] = tensor.to(torch.bfloat16).contiguous()
    return out


def write_config(out_dir: str, quantized: bool) -> None:
    from transformers import DeepseekV3Config

    config = model_config.make_config()
    config.architectures = ["DeepseekV3ForCausalLM"]
    config.save_pretrained(out_dir)  # exactly what transformers writes, then DeepSeek's extras
    path = os.path.join(out_dir, "config.json")
    with open(path) as f:
        values = json.load(f)
    values.update(model_config.DEEPSEEK_EXTRAS)
    if quantized:
        values["quantization_config"] = model_config.QUANTIZATION_CONFIG
    with open(path, "w") as f:
        json.dump(values, f, indent=2, sort_keys=True)
        f.write("\n")
    reloaded = DeepseekV3Config.from_pretrained(out_dir)
    if reloaded.rope_parameters != config.rope_parameters:
        raise RuntimeError(f"{path}: rope_parameters did not survive a reload: {reloaded.rope_parameters}")


def export(state_path: str, out_dir: str) -> dict:
    state = torch.load(state_path, map_location="cpu")
    tensors = release_tensors(deepseek_named_tensors(state))
    os.makedirs(out_dir, exist_ok=True)
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    write_config(out_dir, quantized=True)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(GENERATION_CONFIG, f, indent=2)
        f.write("\n")
    fp8 = sum(t.numel() for t in tensors.values() if t.dtype == torch.float8_e4m3fn)
    bf16 = sum(t.numel() for t in tensors.values() if t.dtype == torch.bfloat16)
    return {"tensors": len(tensors), "fp8_params": fp8, "bf16_params": bf16,
            "file_bytes": os.path.getsize(os.path.join(out_dir, "model.safetensors"))}


def dequantized_state(release_dir: str) -> dict[str, torch.Tensor]:
    """DeepSeek-named fp32 tensors of a release folder, FP8 weights dequantized."""
    raw = load_file(os.path.join(release_dir, "model.safetensors"))
    out = {}
    for name, tensor in raw.items():
        if name.endswith(".weight_scale_inv"):
            continue
        scale_name = name.replace(".weight", ".weight_scale_inv")
        if tensor.dtype == torch.float8_e4m3fn:
            if scale_name not in raw:
                raise ValueError(f"{release_dir}/model.safetensors: {name} is FP8 but {scale_name} is missing")
            out[name] = dequantize_fp8_block(tensor, raw[scale_name])
        else:
            out[name] = tensor.float()
    return out


def load_release_model(release_dir: str, device: str = "cpu", state: dict[str, torch.Tensor] | None = None):
    """transformers DeepseekV3ForCausalLM in fp32 with the release's dequantized weights.

    `state` (DeepSeek-named float32 tensors, e.g. nvfp4_recipe.simulated_nvfp4_state) replaces
    the release's own weights; config.json still comes from release_dir.  The weights go
    through transformers' own loader (per-expert names fused on load) from a temporary
    unquantized copy of the folder; every checkpoint tensor must be consumed.
    """
    from transformers import DeepseekV3ForCausalLM

    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(release_dir, "config.json")) as f:
            values = json.load(f)
        values.pop("quantization_config", None)
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(values, f)
        weights = dequantized_state(release_dir) if state is None else state
        save_file({k: v.contiguous() for k, v in weights.items()}, os.path.join(tmp, "model.safetensors"),
                  metadata={"format": "pt"})
        model, info = DeepseekV3ForCausalLM.from_pretrained(tmp, dtype=torch.float32, output_loading_info=True,
                                                            attn_implementation="eager")
    problems_found = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if problems_found:
        raise RuntimeError(f"{release_dir}: loading the dequantized weights left {problems_found}")
    return model.to(device).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", required=True, help="trained_state.pt from train.py")
    parser.add_argument("--out", required=True, help="release folder (tokenizer files are left as they are)")
    args = parser.parse_args()
    print(json.dumps(export(args.state, args.out)))


if __name__ == "__main__":
    main()
