"""The applications (math solver, coding assistant, tutor) on the shipped tiny-r1: the CLI subcommands in
process, the HTTP endpoints of `fp4serve serve`, and the CLI against that server with --url.

tiny-r1 was trained on arithmetic and algebra only, so the math answers are checked for their values and
the code and tutor answers for their structure (the model does not write code or lesson text)."""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from server_harness import TINY_R1, fp4serve_binary  # noqa: E402

GREEDY = ["--temperature", "0", "--threads", "2"]


def fp4serve(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(fp4serve_binary()), *args], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def app_json(*args: str) -> dict:
    return json.loads(fp4serve(*args, "--json").stdout)


# --- CLI, in process -------------------------------------------------------------------------------------


def test_math_english_in_process():
    out = app_json("math", "What is 2 + 3?", "-m", str(TINY_R1), *GREEDY)
    assert out["object"] == "app.math.solution"
    assert out["model"] == "tiny-r1"
    assert out["language"] == "en"
    assert out["final_answer"] == "5"
    assert out["has_boxed_answer"] is True
    assert out["full_solution"] == "The answer is \\boxed{5}."
    assert "2 + 3 = 5" in out["reasoning"]
    assert out["finish_reason"] == "stop"
    assert out["usage"]["total_tokens"] == out["usage"]["prompt_tokens"] + out["usage"]["completion_tokens"]


def test_math_korean_in_process_text_output():
    proc = fp4serve("math", "3 + 4는 얼마인가요?", "-m", str(TINY_R1), "--show-reasoning", *GREEDY)
    assert "따라서 답은 \\boxed{7}입니다." in proc.stdout
    assert proc.stdout.rstrip().endswith("Final answer: 7")
    assert "<think>" in proc.stdout  # --show-reasoning


def test_math_issue_example_in_process():
    out = app_json("math", "2x + 5 = 15를 풀어주세요", "-m", str(TINY_R1), *GREEDY)
    assert out["language"] == "ko"
    assert out["final_answer"] == "5"
    assert out["full_solution"].startswith("따라서 답은")


def test_math_language_override_in_process():
    out = app_json("math", "3 + 4는 얼마인가요?", "--language", "en", "-m", str(TINY_R1), *GREEDY)
    assert out["language"] == "en"


def test_code_generate_in_process_structure():
    out = app_json("code", "generate", "reverse a string", "--language", "py", "-m", str(TINY_R1),
                   "--max-tokens", "48", *GREEDY)
    assert out["object"] == "app.code.generation"
    assert out["language"] == "python"
    assert isinstance(out["blocks"], list)
    assert out["finish_reason"] in ("stop", "length")
    assert out["usage"]["completion_tokens"] <= 48


def test_code_review_in_process_reads_file_and_extension(tmp_path):
    source = tmp_path / "calc.py"
    source.write_text("def div(a, b):\n    return a / b\n")
    out = app_json("code", "review", str(source), "--focus", "correctness,security", "-m", str(TINY_R1),
                   "--max-tokens", "48", *GREEDY)
    assert out["object"] == "app.code.review"
    assert out["language"] == "python"
    assert out["focus"] == ["correctness", "security"]
    assert isinstance(out["issues_parsed"], bool)


def test_tutor_in_process_structure():
    out = app_json("tutor", "explain", "분수", "--level", "beginner", "-m", str(TINY_R1), "--max-tokens", "48", *GREEDY)
    assert out["object"] == "app.tutor.explanation"
    assert (out["level"], out["language"]) == ("beginner", "ko")
    out = app_json("tutor", "problems", "addition", "--count", "2", "-m", str(TINY_R1), "--max-tokens", "64", *GREEDY)
    assert out["object"] == "app.tutor.problems"
    assert out["requested"] == 2
    assert isinstance(out["problems"], list)


@pytest.mark.parametrize(
    "args, message",
    [
        (["math", "   ", "-m", str(TINY_R1)], '"problem" is empty'),
        (["math", "1+1"], "give either a model folder (-m DIR) or a server (--url URL)"),
        (["math", "1+1", "-m", str(TINY_R1), "--language", "fr"], '"language" is "fr"'),
        (["math", "1+1", "-m", str(TINY_R1), "--top-p", "1.5"], "top_p"),
        (["tutor", "problems", "x", "--count", "50", "-m", str(TINY_R1)], '"count" is 50, expected an integer in [1, 10]'),
        (["code", "review", "/nonexistent/file.py", "-m", str(TINY_R1)], "cannot open /nonexistent/file.py"),
        (["code", "review", "-", "--focus", "vibes", "-m", str(TINY_R1)], '"focus[0]" is "vibes"'),
        (["math", "1+1", "--url", "ftp://x"], 'the scheme is "ftp"'),
    ],
)
def test_cli_errors_are_one_line(args, message):
    proc = subprocess.run([str(fp4serve_binary()), *args], capture_output=True, text=True, timeout=120, input="x = 1\n")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fp4serve: error: "), proc.stderr
    assert message in lines[0]


def test_url_to_a_closed_port_fails_cleanly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = fp4serve("math", "1+1", "--url", f"http://127.0.0.1:{port}", "--served-model-name", "m", check=False)
    assert proc.returncode == 1
    assert "request failed" in proc.stderr


# --- HTTP endpoints and --url ---------------------------------------------------------------------------


def test_math_endpoint(server):
    status, out = server.post_json("/v1/apps/math/solve", {"problem": "What is 2 + 3?", "temperature": 0})
    assert status == 200, out
    assert out["final_answer"] == "5" and out["has_boxed_answer"] is True


def test_every_endpoint_answers(server):
    cases = {
        "/v1/apps/code/generate": ({"task": "add two numbers", "language": "rust", "max_tokens": 32}, "app.code.generation"),
        "/v1/apps/code/review": ({"code": "x = eval(input())", "focus": ["security"], "max_tokens": 32}, "app.code.review"),
        "/v1/apps/tutor/explain": ({"concept": "derivative", "level": "advanced", "max_tokens": 32}, "app.tutor.explanation"),
        "/v1/apps/tutor/problems": ({"topic": "fractions", "count": 2, "max_tokens": 48}, "app.tutor.problems"),
    }
    for path, (body, kind) in cases.items():
        status, out = server.post_json(path, {**body, "temperature": 0})
        assert status == 200, (path, out)
        assert out["object"] == kind
        assert out["model"] == "tiny-r1"
        assert out["usage"]["completion_tokens"] <= body["max_tokens"]


@pytest.mark.parametrize(
    "path, body, param",
    [
        ("/v1/apps/math/solve", {}, "problem"),
        ("/v1/apps/code/generate", {"task": "x", "language": 3}, "language"),
        ("/v1/apps/code/review", {"code": "x", "focus": ["vibes"]}, "focus[0]"),
        ("/v1/apps/tutor/explain", {"concept": "x", "level": "guru"}, "level"),
        ("/v1/apps/tutor/problems", {"topic": "x", "count": 0}, "count"),
    ],
)
def test_endpoint_field_errors_are_400(server, path, body, param):
    status, out = server.post_json(path, body)
    assert status == 400, out
    assert param in out["error"]["message"]


def test_cli_against_the_server_matches_in_process(server):
    """At temperature 0 the same model gives the same solution in process and through the server."""
    problem = "What is 46 + 17?"
    local = app_json("math", problem, "-m", str(TINY_R1), "--max-tokens", "300", *GREEDY)
    remote = app_json("math", problem, "--url", server.url, "--max-tokens", "300", "--temperature", "0")
    for key in ("full_solution", "reasoning", "final_answer", "has_boxed_answer", "language", "finish_reason"):
        assert remote[key] == local[key], key
    assert remote["model"] == "tiny-r1"
    assert remote["usage"]["completion_tokens"] == local["usage"]["completion_tokens"]


def test_tutor_and_code_cli_against_the_server(server):
    out = app_json("tutor", "problems", "subtraction", "--count", "1", "--url", server.url, "--max-tokens", "48",
                   "--temperature", "0")
    assert out["requested"] == 1
    out = app_json("code", "generate", "hello world", "--url", server.url + "/v1", "--max-tokens", "32",
                   "--temperature", "0")
    assert out["language"] == "python"
