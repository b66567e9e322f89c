"""Safe defaults and limits: API key, CORS, body size (413), queue limit (429), prompt length (400)."""

import concurrent.futures
import json

import openai
import pytest

from server_harness import Server

CHAT = "/v1/chat/completions"
SMALL_CHAT = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def test_api_key_is_required_except_for_health_and_banner():
    with Server("--api-key", "s3cret-key") as s:
        status, body = s.post_json(CHAT, SMALL_CHAT)
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        assert body["error"]["type"] == "authentication_error"
        status, body = s.post_json(CHAT, SMALL_CHAT, {"Authorization": "Bearer wrong-key"})
        assert status == 401
        status, body = s.post_json(CHAT, SMALL_CHAT, {"Authorization": "Basic s3cret-key"})
        assert status == 401
        status, body = s.post_json(CHAT, SMALL_CHAT, {"Authorization": "Bearer s3cret-key"})
        assert status == 200, body
        assert s.request("GET", "/health")[0] == 200
        assert s.request("GET", "/")[0] == 200
        assert s.request("GET", "/metrics")[0] == 401
        assert s.request("GET", "/metrics", headers={"Authorization": "Bearer s3cret-key"})[0] == 200
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=s.url + "/v1", api_key="nope", max_retries=0).models.list()
        ok = openai.OpenAI(base_url=s.url + "/v1", api_key="s3cret-key", max_retries=0)
        assert ok.models.list().data[0].id == "tiny-r1"


def test_cors_is_off_by_default(server):
    status, headers, _ = server.request("OPTIONS", CHAT, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 403
    status, headers, _ = server.request("GET", "/v1/models", headers={"Origin": "https://app.example"})
    assert status == 200 and "access-control-allow-origin" not in headers


def test_cors_allows_listed_origins_only():
    with Server("--cors-origin", "https://app.example,http://localhost:3000") as s:
        status, headers, _ = s.request("OPTIONS", CHAT, headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert status == 204
        assert headers["access-control-allow-origin"] == "https://app.example"
        assert "POST" in headers["access-control-allow-methods"]
        assert "Authorization" in headers["access-control-allow-headers"]
        status, headers, _ = s.request("POST", CHAT, SMALL_CHAT, headers={"Origin": "http://localhost:3000"})
        assert status == 200 and headers["access-control-allow-origin"] == "http://localhost:3000"
        status, headers, _ = s.request("OPTIONS", CHAT, headers={"Origin": "https://evil.example"})
        assert status == 403 and "access-control-allow-origin" not in headers
        status, headers, _ = s.request("POST", CHAT, SMALL_CHAT, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in headers


def test_body_limit_gives_413_and_the_server_keeps_serving():
    with Server("--max-body-bytes", "4096") as s:
        big = {"messages": [{"role": "user", "content": "x" * 8000}]}
        status, body = s.post_json(CHAT, big)
        assert status == 413
        assert body["error"]["code"] == "request_too_large" and "4096" in body["error"]["message"]
        status, body = s.post_json(CHAT, SMALL_CHAT)
        assert status == 200, body


def test_full_queue_gives_429_with_retry_after():
    # One running sequence, one waiting: of 8 simultaneous long requests, the rest are refused.
    with Server("--max-num-seqs", "1", "--max-queue", "1") as s:
        long_request = {"prompt": "Once upon a time", "max_tokens": 1500, "ignore_eos": True}

        def send(_):
            return s.request("POST", "/v1/completions", long_request)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, range(8)))
        refused = [r for r in results if r[0] == 429]
        served = [r for r in results if r[0] == 200]
        assert refused, [r[0] for r in results]
        assert len(refused) + len(served) == 8, [r[0] for r in results]
        status, headers, data = refused[0]
        assert int(headers["retry-after"]) >= 1
        assert json.loads(data)["error"]["type"] == "rate_limit_error"
        for _, _, data in served:
            assert json.loads(data)["usage"]["completion_tokens"] == 1500


def test_prompt_limit_names_the_limit():
    with Server("--max-prompt-tokens", "16") as s:
        status, body = s.post_json("/v1/completions", {"prompt": "1 2 3 4 5 6 7 8 9 10 11 12", "max_tokens": 2})
        assert status == 400
        assert "--max-prompt-tokens" in body["error"]["message"] and "16" in body["error"]["message"]
        assert body["error"]["code"] == "context_length_exceeded"
        status, body = s.post_json("/v1/completions", {"prompt": "1 2", "max_tokens": 2})
        assert status == 200, body


def test_binds_loopback_by_default(server):
    assert server.host == "127.0.0.1"
    assert "listening on http://127.0.0.1:" in server.log_text()


def test_unknown_fields_are_reported_or_rejected(server):
    status, headers, data = server.request("POST", CHAT, {**SMALL_CHAT, "frobnicate": 1, "guided_decoding_x": 2})
    assert status == 200, data
    assert headers["x-ignored-fields"] == "frobnicate,guided_decoding_x"
    with Server("--strict-fields") as strict:
        status, body = strict.post_json(CHAT, {**SMALL_CHAT, "frobnicate": 1})
        assert status == 400 and body["error"]["param"] == "frobnicate"
        assert strict.post_json(CHAT, SMALL_CHAT)[0] == 200
