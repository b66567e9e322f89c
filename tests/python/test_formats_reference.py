"""The C++ codecs of src/fp4/base/formats.h against ml_dtypes and numpy, through tests/tools/format_table.

What is compared (docs/formats.md, "Reference checks", says the same):
- Decoding: every code point of bf16, f16, e4m3, e5m2, e2m1 and ue4m3, bit for bit (NaN codes: both NaN).
- Encoding, FP8 E4M3 (the spec's saturating encoder) and E2M1: all 2^32 float32 bit patterns, streamed
  through the tool in chunks and compared chunk by chunk with ml_dtypes.
- Encoding, every other encoder (bf16, f16, e4m3_nonsaturating, e5m2, e5m2_satfinite, ue4m3): a dense
  sample, because numpy's float16 cast alone needs minutes for 2^32 patterns: every 4099th pattern of the
  2^32, plus ±16 float32 ulps (±4 for the 16-bit formats) around every representable value, every midpoint
  between neighbours (where round-to-nearest-even ties are decided) and the overflow threshold, both signs.

ml_dtypes casts like a plain PyTorch cast, which is not what nvfp4_format.md §2 asks of our encoders, so the
expected codes are ml_dtypes' codes with the spec's rules applied explicitly here:
- e4m3 (satfinite, §2.4/§2.5): finite inputs that ml_dtypes turns into NaN (they overflowed) and ±inf become
  ±448 (0x7E/0xFE); every NaN input becomes 0x7F.
- e2m1 (§2.3): ml_dtypes already saturates finite values and inf to ±6; NaN inputs become +6 (code 7), the
  value ModelOpt's rounding gives, where ml_dtypes gives a zero.
- ue4m3: inputs with the sign bit set give 0x00, NaN gives 0x7F, otherwise as e4m3.
- e5m2_satfinite: overflow and ±inf give ±57344 (0x7B/0xFB), NaN gives 0x7F.
- bf16/f16/e5m2/e4m3_nonsaturating: NaN inputs only need to give some NaN (ml_dtypes and numpy choose other
  payloads than the hardware rule we follow); the exact NaN bits are checked by the C++ unit tests.
"""

import os
import pathlib
import subprocess

import ml_dtypes
import numpy as np
import pytest

CHUNK = 1 << 22  # float32 patterns per streamed chunk: 16 MiB of input, small enough to pipeline well
ALL_PATTERNS = 1 << 32
SAMPLE_STRIDE = 4099
NEIGHBOURHOOD = {1: 16, 2: 4}  # float32 ulps either side of each centre, by code width in bytes


def _tool() -> pathlib.Path:
    build = os.environ.get("FP4SERVE_BUILD")
    if not build:
        pytest.fail("FP4SERVE_BUILD is not set; run through `make test` or point it at the CMake build folder")
    tool = pathlib.Path(build) / "tests" / "format_table"
    if not tool.is_file():
        pytest.fail(f"{tool} does not exist; build the format_table target first")
    return tool


# name -> (numpy dtype of the reference, bytes per code, numpy dtype of a code)
FORMATS = {
    "bf16": (ml_dtypes.bfloat16, 2, np.uint16),
    "f16": (np.float16, 2, np.uint16),
    "e4m3": (ml_dtypes.float8_e4m3fn, 1, np.uint8),
    "e4m3_nonsaturating": (ml_dtypes.float8_e4m3fn, 1, np.uint8),
    "e5m2": (ml_dtypes.float8_e5m2, 1, np.uint8),
    "e5m2_satfinite": (ml_dtypes.float8_e5m2, 1, np.uint8),
    "e2m1": (ml_dtypes.float4_e2m1fn, 1, np.uint8),
    "ue4m3": (ml_dtypes.float8_e4m3fn, 1, np.uint8),
}


def _reference_codes(name: str, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected codes for float32 bit patterns `bits`, and a mask of entries where any NaN code is accepted."""
    ref_dtype, _, code_dtype = FORMATS[name]
    x = bits.view(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        codes = x.astype(ref_dtype).view(code_dtype).copy()
    if ref_dtype is ml_dtypes.float4_e2m1fn:
        codes &= 0xF  # ml_dtypes stores a 4-bit value in a byte; only the low nibble is the code
    nan_in = np.isnan(x)
    any_nan_ok = np.zeros(bits.shape, dtype=bool)
    if name in ("e4m3", "ue4m3"):
        overflowed = ((codes & 0x7F) == 0x7F) & ~nan_in  # ml_dtypes: overflow and inf give NaN
        codes[overflowed] = (codes[overflowed] & 0x80) | 0x7E
        codes[nan_in] = 0x7F
        if name == "ue4m3":
            codes[(bits >= 0x80000000) & ~nan_in] = 0x00
    elif name == "e5m2_satfinite":
        overflowed = ((codes & 0x7F) == 0x7C) & ~nan_in  # ml_dtypes: overflow and inf give inf
        codes[overflowed] = (codes[overflowed] & 0x80) | 0x7B
        codes[nan_in] = 0x7F
    elif name == "e2m1":
        codes[nan_in] = 0x7
    else:
        any_nan_ok = nan_in
    return codes, any_nan_ok


def _is_nan_code(name: str, codes: np.ndarray) -> np.ndarray:
    ref_dtype, _, _ = FORMATS[name]
    return np.isnan(codes.view(ref_dtype).astype(np.float32))


def _compare(name: str, bits: np.ndarray, got: np.ndarray) -> None:
    want, any_nan_ok = _reference_codes(name, bits)
    bad = got != want
    if any_nan_ok.any():
        bad &= ~(any_nan_ok & _is_nan_code(name, got))
    if bad.any():
        idx = np.flatnonzero(bad)[:8]
        shown = ", ".join(f"0x{bits[i]:08X}: got 0x{got[i]:X} want 0x{want[i]:X}" for i in idx)
        raise AssertionError(f"{name}: {int(bad.sum())} mismatches; first: {shown}")


def _encode_stdin(tool: pathlib.Path, name: str, bits: np.ndarray) -> np.ndarray:
    _, width, code_dtype = FORMATS[name]
    out = subprocess.run([tool, "encode", name], input=bits.astype("<u4").tobytes(), capture_output=True, check=True)
    assert len(out.stdout) == width * bits.size, out.stderr.decode()
    return np.frombuffer(out.stdout, dtype=code_dtype)


@pytest.mark.parametrize("name", list(FORMATS))
def test_decode_every_code_point(name):
    ref_dtype, width, code_dtype = FORMATS[name]
    # ue4m3: the tool decodes only the sign-0 half, the codes a valid scale can have.
    count = {"e2m1": 16, "ue4m3": 128}.get(name, 1 << (8 * width))
    out = subprocess.run([_tool(), "decode", name], capture_output=True, check=True).stdout
    got = np.frombuffer(out, dtype="<f4")
    assert got.size == count
    want = np.arange(count, dtype=code_dtype).view(ref_dtype).astype(np.float32)
    both_nan = np.isnan(got) & np.isnan(want)
    same_bits = got.view(np.uint32) == want.view(np.uint32)
    assert np.all(same_bits | both_nan), np.flatnonzero(~(same_bits | both_nan))[:8]


def _sample_patterns(name: str) -> np.ndarray:
    """Every SAMPLE_STRIDE-th pattern plus neighbourhoods of every value, midpoint and the overflow threshold."""
    ref_dtype, width, code_dtype = FORMATS[name]
    codes = np.arange(1 << (8 * width) if name != "e2m1" else 16, dtype=code_dtype)
    with np.errstate(invalid="ignore"):
        values = codes.view(ref_dtype).astype(np.float64)
    values = np.unique(np.abs(values[np.isfinite(values)]))
    midpoints = (values[1:] + values[:-1]) / 2
    overflow = values[-1] + (values[-1] - values[-2]) / 2
    centres = np.concatenate([values, midpoints, [overflow]]).astype(np.float32).view(np.uint32).astype(np.int64)
    radius = NEIGHBOURHOOD[width]
    offsets = np.arange(-radius, radius + 1, dtype=np.int64)
    near = (centres[:, None] + offsets[None, :]).ravel()
    near = near[(near >= 0) & (near <= 0x7FFFFFFF)].astype(np.uint32)
    strided = np.arange(0, ALL_PATTERNS, SAMPLE_STRIDE, dtype=np.uint64).astype(np.uint32)
    return np.unique(np.concatenate([strided, near, near | np.uint32(0x80000000)]))


@pytest.mark.parametrize("name", ["bf16", "f16", "e4m3_nonsaturating", "e5m2", "e5m2_satfinite", "ue4m3"])
def test_encode_dense_sample(name):
    bits = _sample_patterns(name)
    assert bits.size > 1_000_000
    _compare(name, bits, _encode_stdin(_tool(), name, bits))


@pytest.mark.parametrize("name", ["e4m3", "e2m1"])
def test_encode_all_float32_patterns(name):
    _, width, code_dtype = FORMATS[name]
    tool = _tool()
    with subprocess.Popen([tool, "encode", name, "--range", "0", str(ALL_PATTERNS)], stdout=subprocess.PIPE) as proc:
        for start in range(0, ALL_PATTERNS, CHUNK):
            raw = proc.stdout.read(CHUNK * width)
            assert len(raw) == CHUNK * width, f"format_table stopped at pattern 0x{start:08X}"
            got = np.frombuffer(raw, dtype=code_dtype)
            bits = np.arange(start, start + CHUNK, dtype=np.uint32)
            _compare(name, bits, got)
        assert proc.stdout.read() == b""
    assert proc.returncode == 0


def test_tool_rejects_bad_arguments():
    tool = _tool()
    bad_arguments = (
        ["encode", "e3m4"],
        ["encode", "e4m3", "--range", "0"],
        ["encode", "e4m3", "--range", "1", "0x100000000"],
        ["shuffle", "e4m3"],
    )
    for args in bad_arguments:
        out = subprocess.run([tool, *args], capture_output=True)
        assert out.returncode == 2, args
        assert out.stderr.startswith(b"format_table: "), out.stderr
    out = subprocess.run([tool, "encode", "e4m3"], input=b"\x00\x00\x80", capture_output=True)
    assert out.returncode == 2 and b"multiple of 4" in out.stderr
