"""Reference NVFP4 (ModelOpt) and FP8-block (DeepSeek) weight codecs in numpy.

Written from the format spec (docs: NVFP4 §1.3-2.4, FP8 block §3) and kept deliberately plain:
element-wise numpy with explicit rounding rules, no vendor code. The C++ quantizer and the golden
fixtures are both checked against this file, so every rule it applies is spelled out here.

NVFP4, per linear W[N, K] (K divisible by 16):
  weight_scale_2 = amax(|W|) / (6 * 448)                         float32 scalar
  sb[n, b]       = amax(|W[n, 16b:16b+16]|) / (6 * weight_scale_2), cast RNE to E4M3 (1.0 if the block is 0)
  q[n, k]        = RNE_E2M1(W[n, k] / (fp32(sb[n, k/16]) * weight_scale_2))
  weight         = uint8 [N, K/2], element 2j in the low nibble, 2j+1 in the high nibble
  dequant        W'[n, k] = e2m1(q) * fp32(sb) * weight_scale_2

FP8 block, per linear W[N, K], blocks of 128 x 128 (edge blocks partial):
  s[i, j]        = amax(|block|) / 448 (1.0 if the block is 0)    float32, stored as weight_scale_inv
  weight         = RNE_E4M3(W / s) as float8_e4m3fn bytes [N, K]
  dequant        W'[n, k] = e4m3(weight[n, k]) * weight_scale_inv[n/128, k/128]
"""

from __future__ import annotations

import numpy as np

E4M3_MAX = 448.0
E2M1_MAX = 6.0

# E2M1 magnitudes for codes 0..7 (bit 3 is the sign): exponent bias 1, one mantissa bit, code 1 subnormal.
E2M1_VALUES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0], dtype=np.float32)


# ----------------------------------------------------------------------------------------------
# E4M3 (float8_e4m3fn): 1 sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities; max 448.


def e4m3_decode(codes: np.ndarray) -> np.ndarray:
    """Exact float32 value of every E4M3FN byte (0x7F / 0xFF decode to NaN)."""
    c = codes.astype(np.uint32)
    sign = np.where(c & 0x80, -1.0, 1.0).astype(np.float32)
    exp = ((c >> 3) & 0xF).astype(np.int32)
    man = (c & 0x7).astype(np.float32)
    normal = (1.0 + man / 8.0) * np.exp2(exp.astype(np.float32) - 7.0)
    subnormal = (man / 8.0) * np.float32(2.0**-6)
    mag = np.where(exp == 0, subnormal, normal).astype(np.float32)
    mag = np.where((c & 0x7F) == 0x7F, np.float32(np.nan), mag)
    return (sign * mag).astype(np.float32)


# All 126 finite non-negative E4M3 magnitudes (codes 0x00..0x7E) in ascending order.
_E4M3_POSITIVE = e4m3_decode(np.arange(0x7F, dtype=np.uint8))


def _round_to_grid_rne(mag: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index into the ascending `grid` nearest to each magnitude; ties go to the even index.

    On both grids used here (E4M3 magnitudes and E2M1 magnitudes) consecutive codes alternate
    between even and odd mantissa, so the even index is the even-mantissa code: exactly IEEE
    round-to-nearest-even. Values past the last grid point saturate to it (satfinite).
    """
    mag = np.asarray(mag, dtype=np.float64)
    hi = np.searchsorted(grid.astype(np.float64), mag, side="left")
    hi = np.clip(hi, 1, len(grid) - 1)
    lo = hi - 1
    g = grid.astype(np.float64)
    d_lo = mag - g[lo]
    d_hi = g[hi] - mag
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (hi % 2 == 0))
    idx = np.where(pick_hi, hi, lo)
    idx = np.where(mag <= 0.0, 0, idx)
    idx = np.where(mag >= g[-1], len(grid) - 1, idx)
    return idx


def e4m3_encode(x: np.ndarray) -> np.ndarray:
    """RNE cast of float32 to E4M3FN bytes, saturating at +-448 (NaN is not expected here)."""
    x = np.asarray(x, dtype=np.float32)
    if np.isnan(x).any():
        raise ValueError("e4m3_encode: NaN input")
    idx = _round_to_grid_rne(np.abs(x), _E4M3_POSITIVE).astype(np.uint8)
    sign = np.where(np.signbit(x), 0x80, 0x00).astype(np.uint8)
    return (idx | sign).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# E2M1: codes 0..15, bit 3 sign.


def e2m1_decode(codes: np.ndarray) -> np.ndarray:
    c = codes.astype(np.uint8)
    mag = E2M1_VALUES[c & 0x7]
    return np.where(c & 0x8, -mag, mag).astype(np.float32)


def e2m1_encode(x: np.ndarray) -> np.ndarray:
    """RNE to the nearest E2M1 value with ties to the even mantissa, saturating at +-6.

    Matches the spec's table: 0.25->0, 0.75->1.0, 1.25->1.0, 1.75->2, 2.5->2, 3.5->4, 5->4, >5->6.
    """
    x = np.asarray(x, dtype=np.float32)
    idx = _round_to_grid_rne(np.abs(x), E2M1_VALUES).astype(np.uint8)
    # The sign bit follows x < 0 even when the magnitude rounds to 0 (code 8, "-0"), as ModelOpt's
    # cast does; both zero codes decode to 0.
    sign = np.where(x < 0, 0x8, 0x0).astype(np.uint8)
    return (idx | sign).astype(np.uint8)


def pack_e2m1(codes: np.ndarray) -> np.ndarray:
    """[N, K] codes -> [N, K/2] bytes, element 2j in the low nibble."""
    if codes.shape[-1] % 2:
        raise ValueError("pack_e2m1: odd K")
    lo = codes[..., 0::2].astype(np.uint8)
    hi = codes[..., 1::2].astype(np.uint8)
    return (lo | (hi << 4)).astype(np.uint8)


def unpack_e2m1(packed: np.ndarray) -> np.ndarray:
    n, kh = packed.shape
    out = np.empty((n, kh * 2), dtype=np.uint8)
    out[:, 0::2] = packed & 0xF
    out[:, 1::2] = packed >> 4
    return out


# ----------------------------------------------------------------------------------------------
# NVFP4 (ModelOpt)


def nvfp4_global_scale(amax: float) -> np.float32:
    """weight_scale_2 (and input_scale) = amax / (6 * 448) in float32."""
    return np.float32(np.float32(amax) / np.float32(E2M1_MAX * E4M3_MAX))


def nvfp4_quantize(w: np.ndarray, weight_scale_2: np.float32 | None = None):
    """W [N, K] float32 -> (weight u8 [N, K/2], weight_scale e4m3 bytes [N, K/16], weight_scale_2 f32).

    `weight_scale_2` may be given so that fused pairs (gate/up) share one global scale computed from
    the larger of the two amaxes, as ModelOpt's exporter does.
    """
    w = np.asarray(w, dtype=np.float32)
    n, k = w.shape
    if k % 16:
        raise ValueError(f"nvfp4_quantize: K={k} is not a multiple of 16")
    if weight_scale_2 is None:
        weight_scale_2 = nvfp4_global_scale(float(np.abs(w).max()))
    gs = np.float32(weight_scale_2)
    if gs == 0:
        gs = np.float32(1.0)  # all-zero tensor: any positive scale encodes it exactly
    blocks = w.reshape(n, k // 16, 16)
    block_amax = np.abs(blocks).max(axis=2)  # [N, K/16]
    sb = (block_amax / (np.float32(E2M1_MAX) * gs)).astype(np.float32)
    sb_codes = e4m3_encode(np.minimum(sb, np.float32(E4M3_MAX)))
    sb_codes = np.where(block_amax == 0, e4m3_encode(np.float32(1.0)), sb_codes).astype(np.uint8)
    sb_val = e4m3_decode(sb_codes)
    per_block = (sb_val * gs).astype(np.float32)  # [N, K/16]
    # A block whose scale underflowed to 0 in E4M3 holds values too small to represent: all go to 0.
    safe = np.where(per_block == 0, np.float32(1.0), per_block)
    scaled = (blocks / safe[:, :, None]).astype(np.float32)
    scaled = np.where(per_block[:, :, None] == 0, np.float32(0.0), scaled)
    codes = e2m1_encode(scaled.reshape(n, k))
    return pack_e2m1(codes), sb_codes, np.float32(gs)


def nvfp4_dequantize(packed: np.ndarray, scale_codes: np.ndarray, weight_scale_2) -> np.ndarray:
    codes = unpack_e2m1(packed)
    n, k = codes.shape
    vals = e2m1_decode(codes).reshape(n, k // 16, 16)
    sb = e4m3_decode(scale_codes).reshape(n, k // 16, 1)
    return (vals * sb * np.float32(weight_scale_2)).astype(np.float32).reshape(n, k)


# ----------------------------------------------------------------------------------------------
# FP8 block (DeepSeek)


def fp8_block_quantize(w: np.ndarray, block=(128, 128)):
    """W [N, K] float32 -> (weight e4m3 bytes [N, K], weight_scale_inv f32 [ceil(N/bn), ceil(K/bk)])."""
    w = np.asarray(w, dtype=np.float32)
    n, k = w.shape
    bn, bk = block
    gn, gk = -(-n // bn), -(-k // bk)
    scale_inv = np.ones((gn, gk), dtype=np.float32)
    q = np.zeros((n, k), dtype=np.uint8)
    for i in range(gn):
        for j in range(gk):
            blk = w[i * bn:(i + 1) * bn, j * bk:(j + 1) * bk]
            amax = np.float32(np.abs(blk).max())
            s = np.float32(amax / np.float32(E4M3_MAX)) if amax > 0 else np.float32(1.0)
            scale_inv[i, j] = s
            q[i * bn:(i + 1) * bn, j * bk:(j + 1) * bk] = e4m3_encode((blk / s).astype(np.float32))
    return q, scale_inv


def fp8_block_dequantize(q: np.ndarray, scale_inv: np.ndarray, block=(128, 128)) -> np.ndarray:
    n, k = q.shape
    bn, bk = block
    s = np.repeat(np.repeat(scale_inv, bn, axis=0), bk, axis=1)[:n, :k]
    return (e4m3_decode(q) * s).astype(np.float32)
