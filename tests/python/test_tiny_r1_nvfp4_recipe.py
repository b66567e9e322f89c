"""tools/tiny_r1/nvfp4_recipe.py reproduces `fp4serve quantize --format nvfp4` on tiny-r1.

Needs torch and safetensors (the training environment); without them the module is skipped.
The whole-file comparison also needs a built fp4serve (FP4SERVE=path, or build*/src/fp4serve).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "models", "tiny-r1")
sys.path.insert(0, os.path.join(ROOT, "tools", "tiny_r1"))
import nvfp4_recipe  # noqa: E402


def test_e2m1_rounds_to_nearest_with_ties_to_the_even_mantissa():
    # Midpoints between neighbours go to the one with an even mantissa (0, 1, 2, 4, 6 are even;
    # 0.5, 1.5, 3 odd); beyond 5 everything saturates to 6; the sign is kept.
    x = torch.tensor([0.25, 0.26, 0.75, 1.25, 1.26, 1.75, 2.5, 2.6, 3.5, 5.0, 5.01, 100.0, -0.74, -3.4])
    want = torch.tensor([0.0, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 3.0, 4.0, 4.0, 6.0, 6.0, -0.5, -3.0])
    assert torch.equal(nvfp4_recipe.e2m1_rne(x), want)


def test_block_scales_and_codes_follow_the_spec_on_a_hand_computed_block():
    # One row of 16: amax 6 -> weight_scale_2 = 6 * f32(1/2688); the block scale is
    # 6 / f32(6 * s2) = 448 (within f32 rounding, then e4m3), so w / (448 * s2) = w / 6 * 2688 / 448 = w.
    w = torch.tensor([[6.0, -6.0, 3.0, 0.5, 1.0, 2.0, 4.0, 1.5, 0.0, -0.5, -1.0, -2.0, -3.0, -4.0, -1.5, 0.25]])
    s2 = nvfp4_recipe.nvfp4_global_scale(w.abs().amax()).reshape(1, 1)
    decoded, values, scales = nvfp4_recipe.nvfp4_roundtrip(w, s2)
    assert scales.item() == 448.0
    assert torch.equal(values, nvfp4_recipe.e2m1_rne(w / (448.0 * s2)))
    assert torch.equal(decoded, (scales.item() * s2) * values)
    assert torch.allclose(decoded, w.where(w.abs() != 0.25, torch.zeros_like(w)), rtol=1e-6, atol=0)


def test_recipe_takes_every_mlp_linear_and_nothing_else():
    with open(os.path.join(RELEASE, "config.json")) as f:
        layers = json.load(f)["num_hidden_layers"]
    assert nvfp4_recipe.recipe_selects("model.layers.0.mlp.gate_proj", layers)
    assert nvfp4_recipe.recipe_selects("model.layers.3.mlp.experts.15.down_proj", layers)
    assert nvfp4_recipe.recipe_selects("model.layers.7.mlp.shared_experts.up_proj", layers)
    assert not nvfp4_recipe.recipe_selects("model.layers.3.mlp.gate", layers)          # router
    assert not nvfp4_recipe.recipe_selects("model.layers.3.self_attn.q_a_proj", layers)
    assert not nvfp4_recipe.recipe_selects(f"model.layers.{layers}.mlp.up_proj", layers)  # MTP
    assert not nvfp4_recipe.recipe_selects("lm_head", layers)


def _fp4serve() -> str | None:
    candidates = [os.environ.get("FP4SERVE", "")] + sorted(glob.glob(os.path.join(ROOT, "build*", "src", "fp4serve")))
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def test_simulated_nvfp4_model_is_bit_identical_to_the_quantizers_file(tmp_path):
    binary = _fp4serve()
    if binary is None:
        pytest.skip("no built fp4serve (set FP4SERVE)")
    out = tmp_path / "nvfp4"
    subprocess.run([binary, "quantize", RELEASE, str(out), "--format", "nvfp4"], check=True, capture_output=True)
    result = nvfp4_recipe.compare_states(nvfp4_recipe.simulated_nvfp4_state(RELEASE),
                                         nvfp4_recipe.read_nvfp4_folder(str(out)))
    assert result["identical"], result
    assert result["tensors"] > 0
