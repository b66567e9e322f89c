"""`fp4serve quantize` and the ModelOpt goldens against the independent reference codec (tools/ref_codec.py).

- ModelOpt's own output (tests/golden/modelopt/, written by tools/modelopt_goldens.py) against ref_codec.
- Round trip: quantize golden BF16 models to NVFP4 and FP8 with the CLI, read every output tensor back and
  check dtype/shape, untouched tensors byte-identical, and quantized tensors equal to ref_codec's encoding
  of the same BF16 input (hence equal dequantized weights).
"""

import json
import os
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import ref_codec  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
NP_DTYPES = {"BF16": np.uint16, "F32": np.float32, "U8": np.uint8, "F8_E4M3": np.uint8, "F16": np.float16,
             "I32": np.int32}


def read_safetensors(path: pathlib.Path) -> dict[str, tuple[str, np.ndarray]]:
    """name -> (dtype string, raw array in the storage type); no third-party loader needed for F8."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[8 + n + b:8 + n + e], dtype=NP_DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = (info["dtype"], arr)
    return out


def read_folder(folder: pathlib.Path) -> dict[str, tuple[str, np.ndarray]]:
    out = {}
    for f in sorted(folder.glob("model*.safetensors")):
        out.update(read_safetensors(f))
    return out


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def fp4serve() -> pathlib.Path:
    build = os.environ.get("FP4SERVE_BUILD")
    if not build:
        pytest.fail("FP4SERVE_BUILD is not set; run through `make test` or point it at the CMake build folder")
    binary = pathlib.Path(build) / "src" / "fp4serve"
    if not binary.exists():
        pytest.fail(f"{binary} does not exist; build the fp4serve target first")
    return binary


def test_modelopt_goldens_match_reference_codec():
    g = read_safetensors(GOLDEN / "modelopt" / "nvfp4_modelopt.safetensors")
    cases = [k[:-len(".input")] for k in g if k.endswith(".input")]
    assert len(cases) >= 3
    differing_scales = {}
    for case in cases:
        w = bf16_to_f32(g[case + ".input"][1])
        scale_2 = g[case + ".weight_scale_2"][1].reshape(()).item()
        packed, scales, _ = ref_codec.nvfp4_quantize(w, np.float32(scale_2))
        mo_scales = g[case + ".weight_scale"][1]
        # ref_codec casts block scales without ModelOpt's lower clamp at 2^-9 (it follows ModelOpt 0.31), so
        # it may differ exactly where ModelOpt clamped a scale that would underflow.
        block_amax = np.abs(w.reshape(w.shape[0], -1, 16)).max(axis=2)
        clamped = (block_amax > 0) & (block_amax / (np.float32(6) * np.float32(scale_2)) < 2.0 ** -9)
        differing_scales[case] = int(((scales != mo_scales) & ~clamped).sum())
        rows_ok = ~clamped.any(axis=1)
        assert np.array_equal(packed[rows_ok], g[case + ".weight"][1][rows_ok]), case
        assert np.array_equal(scales[~clamped], mo_scales[~clamped]), case
    assert all(v == 0 for v in differing_scales.values()), differing_scales


@pytest.mark.parametrize("family", ["deepseek_v3", "qwen3"])
@pytest.mark.parametrize("fmt", ["nvfp4", "fp8"])
def test_cli_round_trip_matches_reference_codec(tmp_path, family, fmt):
    src = GOLDEN / f"{family}_bf16"
    out = tmp_path / "out"
    proc = subprocess.run([str(fp4serve()), "quantize", str(src), str(out), "--format", fmt],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.md").exists()
    before = read_folder(src)
    after = read_folder(out)
    quantized = {n[:-len(".weight_scale_2")] for n in after if n.endswith(".weight_scale_2")}
    quantized |= {n[:-len(".weight_scale_inv")] for n in after if n.endswith(".weight_scale_inv")}
    assert quantized, "nothing was quantized"
    for name, (dtype, arr) in before.items():
        module = name[:-len(".weight")] if name.endswith(".weight") else None
        if module not in quantized:
            assert after[name][0] == dtype and np.array_equal(after[name][1], arr), name
            continue
        w = bf16_to_f32(arr)
        if fmt == "nvfp4":
            scale_2 = after[module + ".weight_scale_2"][1].reshape(()).item()
            packed, scales, _ = ref_codec.nvfp4_quantize(w, np.float32(scale_2))
            assert after[name][0] == "U8" and after[module + ".weight_scale"][0] == "F8_E4M3"
            assert np.array_equal(after[name][1], packed), name
            assert np.array_equal(after[module + ".weight_scale"][1], scales), name
            assert after[module + ".input_scale"][1].reshape(()).item() == 1.0
            assert np.array_equal(ref_codec.nvfp4_dequantize(after[name][1], after[module + ".weight_scale"][1], scale_2),
                                  ref_codec.nvfp4_dequantize(packed, scales, scale_2))
        else:
            q, scale_inv = ref_codec.fp8_block_quantize(w)
            assert after[name][0] == "F8_E4M3" and after[module + ".weight_scale_inv"][0] == "F32"
            assert np.array_equal(after[name][1], q), name
            assert np.array_equal(after[module + ".weight_scale_inv"][1], scale_inv), name
    expected_outputs = len(before) + len(quantized) * (3 if fmt == "nvfp4" else 1)
    assert len(after) == expected_outputs


def test_cli_unknown_recipe_leaves_no_output(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([str(fp4serve()), "quantize", str(GOLDEN / "llama_bf16"), str(out), "--recipe", "r9"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "unknown recipe 'r9'" in proc.stderr
    assert list(tmp_path.iterdir()) == []
