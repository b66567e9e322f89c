"""The reference codec (tools/ref_codec.py) against ml_dtypes and the spec's rounding table, and the golden
fixtures' quantized weights against their BF16 originals."""

import json
import os
import sys

import ml_dtypes
import numpy as np
import pytest
from safetensors import safe_open

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import ref_codec  # noqa: E402

GOLDEN = os.path.join(ROOT, "tests", "golden")
FAMILIES = ["deepseek_v3", "deepseek_v2_lite", "deepseek_v2", "llama", "qwen2", "qwen2_tied", "qwen3"]


def test_e4m3_decode_matches_ml_dtypes_for_every_code():
    codes = np.arange(256, dtype=np.uint8)
    ours = ref_codec.e4m3_decode(codes)
    theirs = codes.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    ok = ~np.isnan(ours)
    assert np.array_equal(ours[ok], theirs[ok])


def test_e4m3_encode_matches_ml_dtypes_rne():
    rng = np.random.default_rng(0)
    grid = ref_codec.e4m3_decode(np.arange(0x7F, dtype=np.uint8))
    midpoints = (grid[:-1] + grid[1:]) / 2  # exact ties: round-to-nearest-even decides
    x = np.concatenate([
        rng.standard_normal(200_000).astype(np.float32) * np.float32(50),
        np.exp2(rng.uniform(-12, 8.8, 200_000)).astype(np.float32),
        midpoints, -midpoints, grid, np.nextafter(midpoints, np.float32(0)), np.nextafter(midpoints, np.float32(1000)),
    ]).astype(np.float32)
    x = np.clip(x, -448, 448)
    assert np.array_equal(ref_codec.e4m3_encode(x), x.astype(ml_dtypes.float8_e4m3fn).view(np.uint8))
    # Saturation (satfinite) beyond the largest finite value.
    assert ref_codec.e4m3_decode(ref_codec.e4m3_encode(np.float32([1e6, -500])))[0] == 448
    assert ref_codec.e4m3_decode(ref_codec.e4m3_encode(np.float32([1e6, -500])))[1] == -448


def test_e2m1_rounding_table_from_the_spec():
    x = np.float32([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 5.5, 100.0, -0.75, -5.0, 0.24, 0.26])
    want = np.float32([0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 6.0, 6.0, -1.0, -4.0, 0.0, 0.5])
    assert np.array_equal(ref_codec.e2m1_decode(ref_codec.e2m1_encode(x)), want)
    # Agrees with ml_dtypes' float4_e2m1fn (RNE) wherever that type exists.
    if hasattr(ml_dtypes, "float4_e2m1fn"):
        y = np.random.default_rng(1).uniform(-6, 6, 100_000).astype(np.float32)
        theirs = y.astype(ml_dtypes.float4_e2m1fn).astype(np.float32)
        assert np.array_equal(ref_codec.e2m1_decode(ref_codec.e2m1_encode(y)), theirs)


def test_pack_puts_the_even_element_in_the_low_nibble():
    codes = np.array([[1, 2, 3, 4]], dtype=np.uint8)
    assert ref_codec.pack_e2m1(codes).tolist() == [[0x21, 0x43]]
    assert np.array_equal(ref_codec.unpack_e2m1(ref_codec.pack_e2m1(codes)), codes)


def test_nvfp4_error_is_within_half_a_step_of_each_block():
    rng = np.random.default_rng(2)
    w = (rng.standard_normal((64, 96)) * 0.05).astype(np.float32)
    packed, sc, gs = ref_codec.nvfp4_quantize(w)
    assert gs == np.float32(np.abs(w).max() / np.float32(6 * 448))
    d = ref_codec.nvfp4_dequantize(packed, sc, gs)
    # Per block the largest E2M1 step is 2 (between 4 and 6) in units of the block scale s·gs, and the
    # E4M3 rounding of s can shrink the scale by up to 2^-4, pushing the block amax to at most 6·(1+2^-4)
    # which saturates to 6: |error| ≤ step/2 · s·gs + amax·2^-4.
    scale = (ref_codec.e4m3_decode(sc) * gs).repeat(16, axis=1)
    amax = np.abs(w).reshape(64, 6, 16).max(axis=2).repeat(16, axis=1)
    assert np.all(np.abs(d - w) <= scale + amax * 2.0**-4 + 1e-12)


def test_fp8_block_scales_and_partial_edges():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((200, 150)).astype(np.float32)
    q, s = ref_codec.fp8_block_quantize(w)
    assert s.shape == (2, 2)
    assert s[1, 1] == np.float32(np.abs(w[128:, 128:]).max() / np.float32(448))
    d = ref_codec.fp8_block_dequantize(q, s)
    # E4M3 has 3 mantissa bits: relative error ≤ 2^-4 for normal values; below 2^-6 · s the absolute
    # step is 2^-9 · s.
    bound = np.maximum(np.abs(w) * 2.0**-4, np.repeat(np.repeat(s, 128, 0), 128, 1)[:200, :150] * 2.0**-10)
    assert np.all(np.abs(d - w) <= bound)


def load(path):
    with safe_open(path, "np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def load_raw(path):
    """Tensors as raw bytes views: safetensors' numpy loader has no float8 type."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = np.frombuffer(blob[8 + n + b:8 + n + e], dtype=np.uint8)
        dt = {"F32": np.float32, "I32": np.int32, "U8": np.uint8, "F8_E4M3": np.uint8, "BF16": np.uint16}[info["dtype"]]
        arr = raw.view(dt).reshape(info["shape"])
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = (info["dtype"], arr)
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_fixture_encodings_hold_the_same_weights(family):
    bf16 = load_raw(os.path.join(GOLDEN, f"{family}_bf16", "model.safetensors"))
    fp8 = load_raw(os.path.join(GOLDEN, f"{family}_fp8", "model.safetensors"))
    nvfp4 = load_raw(os.path.join(GOLDEN, f"{family}_nvfp4", "model.safetensors"))
    checked = {"fp8": 0, "nvfp4": 0}
    for name, (dtype, w) in bf16.items():
        if not name.endswith(".weight") or w.ndim != 2:
            continue
        module = name[: -len(".weight")]
        if f"{module}.weight_scale_inv" in fp8:
            d = ref_codec.fp8_block_dequantize(fp8[name][1], fp8[f"{module}.weight_scale_inv"][1])
            assert np.all(np.abs(d - w) <= np.abs(w) * 2.0**-4 + np.abs(w).max() * 2.0**-12), name
            checked["fp8"] += 1
        if f"{module}.weight_scale" in nvfp4:
            d = ref_codec.nvfp4_dequantize(nvfp4[name][1], nvfp4[f"{module}.weight_scale"][1],
                                           nvfp4[f"{module}.weight_scale_2"][1])
            # An E2M1 code keeps the value within a third of the block amax (step 2 of 6, halved),
            # plus the E4M3 scale rounding.
            amax = np.abs(w).reshape(w.shape[0], -1, 16).max(axis=2).repeat(16, axis=1)
            assert np.all(np.abs(d - w) <= amax * (1 / 6 + 2.0**-4) + 1e-12), name
            assert ".self_attn." not in name and name != "lm_head.weight"  # the R1-0528-FP4 recipe
            checked["nvfp4"] += 1
        else:
            assert np.array_equal(nvfp4[name][1], w), f"{name} should be stored unchanged in BF16"
    assert checked["fp8"] > 0 and checked["nvfp4"] > 0
