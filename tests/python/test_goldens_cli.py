"""`fp4serve generate` on the golden fixtures: the printed continuation is transformers' greedy one, and
`--dump-tensors` writes the residual stream after every layer, which matches transformers' own."""

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


def generate(fixture: str, ids, max_tokens: int, *extra: str) -> subprocess.CompletedProcess:
    cmd = [str(fp4serve()), "generate", "-m", str(GOLDEN / fixture), "--prompt-ids", ",".join(map(str, ids)),
           "--max-tokens", str(max_tokens), "--ignore-eos", "--threads", "2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("fixture", ["deepseek_v3_fp8", "deepseek_v2_bf16", "qwen2_tied_bf16", "qwen3_nvfp4"])
def test_generate_prints_the_greedy_continuation_and_speeds(fixture, tmp_path):
    expected = load_file(str(GOLDEN / fixture / "expected.safetensors"))
    prompt = expected["prompt0.ids"].tolist()
    greedy = expected["greedy.ids"].tolist()[len(prompt):]
    # NVFP4 parity with an f32 framework needs f32 activations (--exact); the fast kernel is W4A8.
    extra = ["--exact"] if fixture.endswith("_nvfp4") else []
    r = generate(fixture, prompt, len(greedy), *extra)
    assert r.returncode == 0, r.stderr
    assert [int(t) for t in r.stdout.strip().split(",")] == greedy
    assert "prefill:" in r.stderr and "tokens/s" in r.stderr and "decode:" in r.stderr


@pytest.mark.parametrize("fixture", ["deepseek_v3_bf16", "llama_bf16"])
def test_dumped_layer_outputs_match_transformers(fixture, tmp_path):
    expected = load_file(str(GOLDEN / fixture / "expected.safetensors"))
    prompt = expected["prompt0.ids"].tolist()
    dump = tmp_path / "dump.safetensors"
    r = generate(fixture, prompt, 1, "--dump-tensors", str(dump))
    assert r.returncode == 0, r.stderr
    ours = load_file(str(dump))
    want = expected["prompt0.layer_out"]  # [layers, T, hidden]
    for layer in range(want.shape[0]):
        got = ours[f"step0.layer.{layer}.out"]
        # The f32 bound of the C++ golden tests (8 stages per layer, K ≤ 256, u = 2^-24) relative to the
        # activation scale, at the deepest layer.
        bound = 8 * want.shape[0] * 256 * 2.0**-24 * max(1.0, float(np.abs(want[layer]).max()))
        assert np.abs(got - want[layer]).max() <= bound, f"layer {layer}"
    assert "step0.logits" in ours and "step0.embed" in ours


def test_bad_prompt_ids_give_one_line():
    r = generate("llama_bf16", ["3", "x"], 2)
    assert r.returncode != 0
    assert "'x' is not a token id" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
