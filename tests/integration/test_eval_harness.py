"""`fp4serve eval` end to end on tiny-r1: against a running `fp4serve serve` it gives the same answers and
scores as in process at temperature 0; --compare writes the report (Markdown, JSON, SVG) with a retention
row; a results file makes a rerun resume; the shipped suites all score their own references."""

import json
import pathlib
import subprocess

import pytest

from server_harness import REPO, TINY_R1, fp4serve_binary

SUITES = [REPO / "evals" / "tiny-r1" / "add.jsonl", REPO / "evals" / "tiny-r1" / "choice.jsonl",
          REPO / "evals" / "tiny-r1" / "quadratic.jsonl"]


def run_eval(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [str(fp4serve_binary()), "eval", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def suite_args() -> list[str]:
    args = []
    for s in SUITES:
        args += ["--suite", str(s)]
    return args


def read_results(path: pathlib.Path) -> dict:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["suite"], r["problem_id"], r["sample"]): r for r in rows}


def test_server_and_in_process_agree_at_temperature_zero(server, tmp_path):
    common = [*suite_args(), "--temperature", "0", "--limit", "5", "--max-tokens", "600", "--concurrency", "3",
              "--json", "--no-progress"]
    local = run_eval("-m", str(TINY_R1), "--threads", "2", "--results", str(tmp_path / "local.jsonl"), *common)
    remote = run_eval("--url", server.url, "--results", str(tmp_path / "remote.jsonl"), *common)
    a, b = read_results(tmp_path / "local.jsonl"), read_results(tmp_path / "remote.jsonl")
    assert len(a) == len(b) == 15
    assert a.keys() == b.keys()
    for key in a:
        assert a[key]["response"] == b[key]["response"], key
        assert a[key]["correct"] == b[key]["correct"], key
    sa, sb = json.loads(local.stdout), json.loads(remote.stdout)
    assert [s["pass1"] for s in sa["suites"]] == [s["pass1"] for s in sb["suites"]]
    assert sa["model"] == str(TINY_R1) and sb["model"] == server.url


def test_compare_report_and_resume(tmp_path):
    quantized = tmp_path / "tiny-r1-nvfp4"
    subprocess.run([str(fp4serve_binary()), "quantize", str(TINY_R1), str(quantized), "--format", "nvfp4"],
                   check=True, capture_output=True, timeout=300)
    out = tmp_path / "report"
    results = tmp_path / "results.jsonl"
    args = ["--compare", str(TINY_R1), str(quantized), *suite_args(), "--limit", "4", "-k", "2",
            "--concurrency", "4", "--threads", "2", "--max-tokens", "600", "--results", str(results),
            "--out", str(out), "--no-progress"]
    first = run_eval(*args)
    md = first.stdout
    assert "| Model | add | choice | quadratic | Average |" in md
    assert f"| Retention ({quantized} / {TINY_R1}) |" in md
    for name in ("compare.md", "compare.json", "compare.svg"):
        assert (out / name).exists(), name
    report = json.loads((out / "compare.json").read_text())
    assert [m["model"] for m in report["models"]] == [str(TINY_R1), str(quantized)]
    for m in report["models"]:
        for s in m["suites"]:
            assert s["problems"] == 4 and s["samples_per_problem"] == 2 and s["total_samples"] == 8
            assert 0 <= s["ci95_low"] <= s["pass1"] <= s["ci95_high"] <= 1
    svg = (out / "compare.svg").read_text()
    assert svg.startswith("<svg") and svg.count("stroke=\"black\"") == 2 * 3 * 3 + 1
    lines = results.read_text().splitlines()
    assert len(lines) == 2 * 3 * 4 * 2  # models x suites x problems x samples

    # Everything is in the results file: the rerun only reads it, and reports the same table.
    second = run_eval(*args)
    assert second.stdout == first.stdout
    assert len(results.read_text().splitlines()) == len(lines)


def test_shipped_suites_score_their_references():
    suites = sorted((REPO / "evals").rglob("*.jsonl"))
    assert len(suites) >= 15
    args = []
    for s in suites:
        args += ["--suite", str(s)]
    proc = run_eval("--self-check", *args, "--concurrency", "2")
    assert proc.stdout.count("references score correct") == len(suites)


def test_bad_suite_is_one_error_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "options": ["a", "b"], "answer": "Z"}\n')
    proc = subprocess.run([str(fp4serve_binary()), "eval", "--self-check", "--suite", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "bad.jsonl:1: field 'answer'" in proc.stderr
