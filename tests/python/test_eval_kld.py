"""`fp4serve eval --kld` on the golden fixtures: the JSON it prints equals an independent numpy recomputation
from the logits it dumps with --dump-logits, identical models score exactly 0, and bad input is one clear
error line."""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
from safetensors.numpy import load_file

REPO = pathlib.Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"


def fp4serve() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("FP4SERVE_BUILD", REPO / "build")) / "src" / "fp4serve"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the project first (make build) or set FP4SERVE_BUILD")
    return path


def ids_file(tmp_path, n=320, seed=0) -> pathlib.Path:
    ids = np.random.default_rng(seed).integers(0, 256, size=n)
    path = tmp_path / "ids.txt"
    path.write_text(" ".join(map(str, ids)) + "\n")
    return path


def kld(base: str, cand: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [str(fp4serve()), "eval", "--kld", str(GOLDEN / base), str(GOLDEN / cand), "--threads", "2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("base,cand", [("qwen2_bf16", "qwen2_fp8"), ("qwen2_bf16", "qwen2_nvfp4"),
                                       ("deepseek_v3_bf16", "deepseek_v3_nvfp4")])
def test_reported_numbers_equal_a_recomputation_from_dumped_logits(base, cand, tmp_path):
    dump = tmp_path / "logits.safetensors"
    r = kld(base, cand, "--ids-file", str(ids_file(tmp_path)), "--ctx", "64", "--json", "--dump-logits", str(dump))
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    t = load_file(str(dump))
    tokens, lb, lc = t["tokens"], log_softmax(t["base.logits"]), log_softmax(t["candidate.logits"])
    windows, ctx = tokens.shape
    assert (windows, ctx) == (5, 64) and got["windows"] == 5 and got["first_scored_row"] == 32
    rows = slice(32, ctx - 1)  # llama.cpp's second half: row t predicts token t + 1
    nxt = tokens[:, 33:ctx]
    kl = (np.exp(lb[:, rows]) * (lb[:, rows] - lc[:, rows])).sum(-1).ravel()
    base_nll = -np.take_along_axis(lb[:, rows], nxt[..., None], -1).ravel()
    cand_nll = -np.take_along_axis(lc[:, rows], nxt[..., None], -1).ravel()
    agree = (t["base.logits"][:, rows].argmax(-1) == t["candidate.logits"][:, rows].argmax(-1)).ravel()
    n = kl.size
    assert got["positions"] == n == 5 * 31
    assert np.all(np.isfinite(kl)) and got["kl_mean"] > 0
    # Both sides sum 256 f64 terms of size ≤ ~20 in different orders: |diff| ≤ 256 · 20 · 2^-53 ≈ 6e-13.
    tol = 1e-11
    assert got["kl_mean"] == pytest.approx(kl.mean(), abs=tol)
    assert got["kl_mean_ci95"] == pytest.approx(1.96 * kl.std(ddof=1) / np.sqrt(n), abs=tol)
    assert got["kl_median"] == pytest.approx(np.percentile(kl, 50), abs=tol)
    assert got["kl_p99"] == pytest.approx(np.percentile(kl, 99), abs=tol)
    assert got["kl_max"] == pytest.approx(kl.max(), abs=tol)
    assert got["top1_agreement"] == agree.mean()
    assert got["base_perplexity"] == pytest.approx(np.exp(base_nll.mean()), rel=1e-11)
    assert got["candidate_perplexity"] == pytest.approx(np.exp(cand_nll.mean()), rel=1e-11)
    assert got["perplexity_ratio"] == pytest.approx(np.exp(cand_nll.mean() - base_nll.mean()), rel=1e-11)


def test_identical_models_score_exactly_zero_and_the_text_report_is_complete(tmp_path):
    r = kld("llama_bf16", "llama_bf16", "--ids-file", str(ids_file(tmp_path, 40)), "--ctx", "16", "--all-positions")
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(":", 1) for line in r.stdout.strip().splitlines())
    assert lines["positions"].strip() == str(2 * 15)
    assert lines["mean KL"].split()[0] == "0" and lines["max KL"].strip() == "0"
    assert lines["top-1 agree"].split()[0] == "100.000"
    assert lines["PPL ratio"].split()[0] == "1.000000"


def test_bad_input_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 x3\n")
    r = kld("qwen2_bf16", "qwen2_fp8", "--ids-file", str(bad), "--ctx", "2")
    assert r.returncode != 0 and "byte 4: 'x3' is not a token id" in r.stderr
    r = kld("qwen2_bf16", "qwen2_fp8", "--ids-file", str(ids_file(tmp_path, 10)), "--ctx", "16")
    assert r.returncode != 0 and "10 tokens, fewer than one window of --ctx 16" in r.stderr
    r = kld("qwen2_bf16", "qwen2_fp8", "--text", str(bad))
    assert r.returncode != 0 and "no tokenizer.json" in r.stderr
