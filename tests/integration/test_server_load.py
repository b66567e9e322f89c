"""Load: 64 concurrent streaming clients for 60 s (FP4SERVE_LOAD_SECONDS overrides) against tiny-r1. No
request fails, every stream is well-formed and complete, the server's RSS is flat after warm-up, and
every KV block is back in the pool at the end."""

import http.client
import json
import os
import random
import threading
import time

from server_harness import Server, read_sse

CLIENTS = 64
SECONDS = float(os.environ.get("FP4SERVE_LOAD_SECONDS", "60"))
WARMUP = SECONDS / 3


def check_stream(events: list[str], kind: str, max_tokens: int, n: int) -> None:
    """Raises AssertionError unless the stream is complete and consistent."""
    assert events and events[-1] == "[DONE]", "no [DONE] at the end"
    chunks = [json.loads(e) for e in events[:-1]]
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == max_tokens * n, usage
    finishes = {}
    for c in chunks[:-1]:
        assert c["object"] == ("chat.completion.chunk" if kind == "chat" else "text_completion")
        for choice in c["choices"]:
            assert choice["index"] not in finishes, "a chunk after the choice finished"
            if choice["finish_reason"] is not None:
                finishes[choice["index"]] = choice["finish_reason"]
    assert finishes == {i: "length" for i in range(n)}, finishes


def client(server: Server, seed: int, deadline: float, results: list, errors: list) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        kind = rng.choice(["chat", "completion"])
        max_tokens, n = rng.randint(8, 64), rng.choice([1, 1, 1, 2])
        body = {"max_tokens": max_tokens, "n": n, "ignore_eos": True, "stream": True,
                "stream_options": {"include_usage": True}, "temperature": rng.choice([0, 0.7]),
                "seed": rng.randint(0, 1 << 30)}
        if kind == "chat":
            path, body["messages"] = "/v1/chat/completions", [{"role": "user", "content": f"What is {seed} + 7?"}]
        else:
            path, body["prompt"] = "/v1/completions", f"Story {seed}: once upon a time"
        try:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 200, f"HTTP {resp.status}: {resp.read()[:200]!r}"
            check_stream(read_sse(resp), kind, max_tokens, n)
            conn.close()
            results.append(1)
        except Exception as e:  # noqa: BLE001 - every failure is collected and reported
            errors.append(f"{kind} max_tokens={max_tokens} n={n}: {e!r}")


def test_64_streaming_clients_for_a_minute():
    with Server("--max-num-seqs", "64") as server:
        results, errors, rss = [], [], []
        start = time.monotonic()
        deadline = start + SECONDS
        threads = [threading.Thread(target=client, args=(server, i, deadline, results, errors))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        while time.monotonic() < deadline:
            rss.append((time.monotonic() - start, server.rss_kib()))
            time.sleep(1.0)
        for t in threads:
            t.join(timeout=180)
        assert not errors, f"{len(errors)} failed streams, first: {errors[:3]}"
        assert len(results) >= CLIENTS, f"only {len(results)} streams completed"

        warm = [kib for t, kib in rss if t >= WARMUP]
        assert warm, rss
        # Flat after warm-up: the peak of the rest stays within 5% (or 16 MiB) of the level reached at
        # warm-up. A leak of even one small buffer per request would exceed this over thousands of requests.
        baseline = warm[0]
        allowed = max(baseline * 0.05, 16 * 1024)
        print(f"\nstreams: {len(results)}, RSS at warm-up {baseline} KiB, peak after {max(warm)} KiB, "
              f"last {warm[-1]} KiB")
        assert max(warm) - baseline <= allowed, rss

        m = server.metrics()
        assert m["fp4serve:kv_cache_blocks_used{}"] == 0
        assert m["vllm:num_requests_running{}"] == 0 and m["vllm:num_requests_waiting{}"] == 0
