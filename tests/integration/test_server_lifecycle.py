"""Metrics read with prometheus_client, cancellation on client disconnect (KV blocks back in the pool),
per-request timeout, and SIGTERM/SIGINT shutdown with exit status 0."""

import http.client
import json
import signal
import socket
import threading
import time

import pytest

from server_harness import Server, read_sse

LONG = {"prompt": "Once upon a time", "max_tokens": 1900, "ignore_eos": True, "stream": True}


def wait_until(condition, timeout=60.0, interval=0.05):
    """Polls until condition() is truthy; returns its last value (the test then asserts on it)."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = condition()
    return value


def test_metrics_parse_and_count_requests(server):
    before = server.metrics()
    for name in ["vllm:num_requests_running{}", "vllm:num_requests_waiting{}", "vllm:kv_cache_usage_perc{}",
                 "vllm:prompt_tokens_total{}", "vllm:generation_tokens_total{}", "vllm:prefix_cache_queries_total{}",
                 "vllm:prefix_cache_hits_total{}", "vllm:num_preemptions_total{}",
                 "vllm:time_to_first_token_seconds_count{}", "vllm:inter_token_latency_seconds_count{}",
                 "vllm:e2e_request_latency_seconds_count{}", "vllm:request_queue_time_seconds_count{}",
                 "vllm:request_success_total{finished_reason=length}", "fp4serve:kv_cache_blocks_total{}"]:
        assert name in before, name
    status, body = server.post_json("/v1/completions", {"prompt": "Count: 1 2 3", "max_tokens": 7,
                                                        "ignore_eos": True})
    assert status == 200, body
    after = server.metrics()
    assert after["vllm:generation_tokens_total{}"] - before["vllm:generation_tokens_total{}"] >= 7
    assert after["vllm:prompt_tokens_total{}"] > before["vllm:prompt_tokens_total{}"]
    assert after["vllm:e2e_request_latency_seconds_count{}"] == before["vllm:e2e_request_latency_seconds_count{}"] + 1
    assert after["vllm:time_to_first_token_seconds_count{}"] == before["vllm:time_to_first_token_seconds_count{}"] + 1
    # Six gaps between seven tokens, however the engine grouped them into updates: at least one observed.
    assert after["vllm:inter_token_latency_seconds_count{}"] > before["vllm:inter_token_latency_seconds_count{}"]
    assert (after["vllm:request_success_total{finished_reason=length}"] ==
            before["vllm:request_success_total{finished_reason=length}"] + 1)
    # The same prompt again is served from the prefix cache.
    server.post_json("/v1/completions", {"prompt": "Count: 1 2 3 " * 8, "max_tokens": 1})
    mid = server.metrics()
    server.post_json("/v1/completions", {"prompt": "Count: 1 2 3 " * 8, "max_tokens": 1})
    last = server.metrics()
    assert last["vllm:prefix_cache_hits_total{}"] > mid["vllm:prefix_cache_hits_total{}"]


def test_disconnect_mid_stream_cancels_and_frees_kv_blocks(server):
    cancelled = "vllm:request_success_total{finished_reason=cancelled}"
    before = server.metrics()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("POST", "/v1/completions", body=json.dumps(LONG), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    for _ in range(5):  # a few events: the request is running and holds blocks
        assert resp.readline()
    held = server.metrics()["fp4serve:kv_cache_blocks_used{}"]
    assert held > 0
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    freed = wait_until(lambda: (m := server.metrics())[cancelled] == before[cancelled] + 1 and m)
    assert freed, "the disconnected request was not cancelled"
    assert freed["fp4serve:kv_cache_blocks_used{}"] == 0
    assert freed["vllm:num_requests_running{}"] == 0
    assert freed["vllm:kv_cache_usage_perc{}"] == 0


NON_STREAMING = [
    ("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 1900, "ignore_eos": True}),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Tell me a long story."}],
                              "max_tokens": 1900, "ignore_eos": True}),
    ("/v1/generate", {"prompt": "Once upon a time", "max_tokens": 1900, "ignore_eos": True}),
]


@pytest.mark.parametrize("path,body", NON_STREAMING, ids=[p for p, _ in NON_STREAMING])
def test_disconnect_while_waiting_for_a_non_streaming_answer_cancels_it(server, path, body):
    cancelled = "vllm:request_success_total{finished_reason=cancelled}"
    before = server.metrics()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    running = wait_until(lambda: server.metrics()["fp4serve:kv_cache_blocks_used{}"] > 0)
    assert running, "the request never started"
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    freed = wait_until(lambda: (m := server.metrics())[cancelled] == before[cancelled] + 1 and m)
    assert freed, "the request of the client that went away was not cancelled"
    assert freed["fp4serve:kv_cache_blocks_used{}"] == 0
    assert freed["vllm:num_requests_running{}"] == 0
    # It ended well before its 1,900 tokens: the counter grew by less than that.
    grown = freed["vllm:generation_tokens_total{}"] - before["vllm:generation_tokens_total{}"]
    assert grown < 1900


def test_request_timeout_cancels_a_long_request():
    with Server("--request-timeout", "0.3") as s:
        status, body = s.post_json("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 1900,
                                                       "ignore_eos": True})
        assert status == 200
        assert body["choices"][0]["finish_reason"] == "cancelled"
        assert body["usage"]["completion_tokens"] < 1900


def stream_in_background(s: Server, out: dict):
    def run():
        conn = http.client.HTTPConnection(s.host, s.port, timeout=120)
        conn.request("POST", "/v1/completions", body=json.dumps(LONG), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        out["status"] = resp.status
        out["events"] = read_sse(resp)

    t = threading.Thread(target=run)
    t.start()
    return t


def test_sigterm_finishes_streams_and_exits_zero():
    s = Server("--grace-period", "0.2")
    s.wait_healthy()
    out = {}
    t = stream_in_background(s, out)
    assert wait_until(lambda: s.metrics()["vllm:num_requests_running{}"] > 0)
    assert s.stop(signal.SIGTERM) == 0, s.log_text()
    t.join(timeout=60)
    # The stream ended well-formed: a last choice with a finish reason, then [DONE].
    assert out["status"] == 200 and out["events"][-1] == "[DONE]"
    finishes = [json.loads(e)["choices"][0]["finish_reason"] for e in out["events"][:-1]]
    assert finishes[-1] in ("length", "cancelled") and all(f is None for f in finishes[:-1])
    assert "SIGTERM received" in s.log_text()


def test_sigint_exits_zero_when_idle():
    s = Server()
    s.wait_healthy()
    assert s.stop(signal.SIGINT) == 0, s.log_text()


def test_bad_model_folder_exits_nonzero(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    s = Server(model=tmp_path)
    assert s.proc.wait(timeout=60) == 1
    assert "cannot load the model" in s.log_text()


def test_health_goes_from_loading_to_healthy_and_never_back():
    s = Server()
    seen = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not seen or seen[-1][0] != 200):
            try:
                status, _, data = s.request("GET", "/health", timeout=5)
            except OSError:
                time.sleep(0.005)  # not listening yet
                continue
            seen.append((status, json.loads(data)))
        for status, body in seen:
            assert body["model"] == "tiny-r1"
            if status == 503:
                assert body == {"status": "loading", "model": "tiny-r1", "ready": False}
            else:
                assert (status, body) == (200, {"status": "healthy", "model": "tiny-r1", "ready": True})
        statuses = [st for st, _ in seen]
        assert statuses and statuses[-1] == 200
        assert statuses == sorted(statuses, reverse=True), "healthy, then loading again"
    finally:
        assert s.stop() == 0
