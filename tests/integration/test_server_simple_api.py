"""The simple API with curl: POST /v1/generate (plain and streamed), GET /health, GET /."""

import json
import subprocess


def curl(*args: str) -> tuple[int, str]:
    r = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body


def test_generate_returns_text_prompt_finish_and_time(server):
    code, body = curl(server.url + "/v1/generate", "-H", "Content-Type: application/json",
                      "-d", json.dumps({"prompt": "Once upon a time", "max_tokens": 12}))
    assert code == 200, body
    r = json.loads(body)
    assert set(r) >= {"generated_text", "prompt", "finish_reason", "generation_time"}
    assert r["prompt"] == "Once upon a time"
    assert isinstance(r["generated_text"], str)
    assert r["finish_reason"] in ("stop", "length")
    assert r["generation_time"] > 0
    assert 0 < r["completion_tokens"] <= 12


def test_generate_defaults_to_512_tokens(server):
    code, body = curl(server.url + "/v1/generate", "-d", json.dumps({"prompt": "1 2 3"}))
    assert code == 200, body
    assert json.loads(body)["completion_tokens"] <= 512


def test_generate_stream_is_sse_ending_with_done(server):
    code, body = curl("-N", server.url + "/v1/generate",
                      "-d", json.dumps({"prompt": "Once upon a time", "max_tokens": 10, "temperature": 0,
                                        "stream": True}))
    assert code == 200
    blocks = [block for block in body.split("\n\n") if block.strip()]
    # SSE comments (": keep-alive", sent while no text is ready) are part of the protocol; clients skip them.
    events = [b for b in blocks if not b.startswith(":")]
    assert all(e.startswith("data: ") for e in events), events
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(e[len("data: "):]) for e in events[:-1]]
    last = payloads[-1]
    assert last["finish_reason"] in ("stop", "length") and last["generation_time"] > 0
    text = "".join(p["text"] for p in payloads)
    code, plain = curl(server.url + "/v1/generate",
                       "-d", json.dumps({"prompt": "Once upon a time", "max_tokens": 10, "temperature": 0}))
    assert text == json.loads(plain)["generated_text"]


def test_health_and_banner(server):
    code, body = curl(server.url + "/health")
    assert code == 200
    assert json.loads(body) == {"status": "healthy", "model": "tiny-r1", "ready": True}
    code, body = curl(server.url + "/")
    assert code == 200
    banner = json.loads(body)
    assert set(banner) == {"message", "version", "docs"}
