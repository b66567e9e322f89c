"""Malformed and hostile requests: each gets its expected 4xx status with an OpenAI error body, the server
stays up, and a valid request works afterwards."""

import json
import socket

import pytest

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
GENERATE = "/v1/generate"
USER = [{"role": "user", "content": "hi"}]


def chat(**fields):
    return {"messages": USER, "max_tokens": 4, **fields}


# (name, method, path, body, expected status). A str/bytes body is sent as is; a dict as JSON.
CASES = [
    ("empty body", "POST", CHAT, b"", 400),
    ("not json", "POST", CHAT, b"hello", 400),
    ("json list", "POST", CHAT, b"[1, 2]", 400),
    ("truncated json", "POST", CHAT, b'{"messages": [', 400),
    ("NaN literal", "POST", CHAT, b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}', 400),
    ("invalid utf-8", "POST", CHAT, b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', 400),
    ("overlong utf-8", "POST", CHAT, b'{"messages": [{"role": "user", "content": "\xc0\xaf"}]}', 400),
    ("lone surrogate escape", "POST", CHAT, b'{"messages": [{"role": "user", "content": "\\ud800"}]}', 400),
    ("nesting bomb", "POST", CHAT, b'{"messages": ' + b"[" * 200000 + b"]" * 200000 + b"}", 400),
    ("messages missing", "POST", CHAT, {"max_tokens": 4}, 400),
    ("messages string", "POST", CHAT, {"messages": "hi"}, 400),
    ("messages empty", "POST", CHAT, {"messages": []}, 400),
    ("message not object", "POST", CHAT, {"messages": ["hi"]}, 400),
    ("unknown role", "POST", CHAT, {"messages": [{"role": "root", "content": "x"}]}, 400),
    ("content number", "POST", CHAT, {"messages": [{"role": "user", "content": 5}]}, 400),
    ("image content part", "POST", CHAT,
     {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, 400),
    ("temperature string", "POST", CHAT, chat(temperature="hot"), 400),
    ("temperature negative", "POST", CHAT, chat(temperature=-1), 400),
    ("temperature overflow", "POST", CHAT, b'{"messages": [{"role": "user", "content": "x"}], "temperature": 1e400}', 400),
    ("top_p zero", "POST", CHAT, chat(top_p=0), 400),
    ("top_p above one", "POST", CHAT, chat(top_p=1.5), 400),
    ("top_k negative", "POST", CHAT, chat(top_k=-5), 400),
    ("min_p above one", "POST", CHAT, chat(min_p=2), 400),
    ("max_tokens zero", "POST", CHAT, chat(max_tokens=0), 400),
    ("max_tokens fraction", "POST", CHAT, chat(max_tokens=1.5), 400),
    ("max_tokens bool", "POST", CHAT, chat(max_tokens=True), 400),
    ("n zero", "POST", CHAT, chat(n=0), 400),
    ("n huge", "POST", CHAT, chat(n=100000), 400),
    ("presence penalty", "POST", CHAT, chat(presence_penalty=3), 400),
    ("frequency penalty", "POST", CHAT, chat(frequency_penalty=-3), 400),
    ("repetition penalty zero", "POST", CHAT, chat(repetition_penalty=0), 400),
    ("top_logprobs too many", "POST", CHAT, chat(logprobs=True, top_logprobs=50), 400),
    ("top_logprobs without logprobs", "POST", CHAT, chat(top_logprobs=2), 400),
    ("too many stop strings", "POST", CHAT, chat(stop=[f"s{i}" for i in range(40)]), 400),
    ("empty stop string", "POST", CHAT, chat(stop=[""]), 400),
    ("stop token id negative", "POST", CHAT, chat(stop_token_ids=[-1]), 400),
    ("stop token id outside vocabulary", "POST", CHAT, chat(stop_token_ids=[10**8]), 400),
    ("seed beyond int64", "POST", CHAT, chat(seed=2**64), 400),
    ("stream not bool", "POST", CHAT, chat(stream="yes"), 400),
    ("stream_options without stream", "POST", CHAT, chat(stream_options={"include_usage": True}), 400),
    ("logit_bias", "POST", CHAT, chat(logit_bias={"5": 10}), 400),
    ("json response format", "POST", CHAT, chat(response_format={"type": "json_object"}), 400),
    ("forced tool call", "POST", CHAT, chat(tool_choice="required"), 400),
    ("unknown model", "POST", CHAT, chat(model="gpt-4"), 404),
    ("prompt missing", "POST", COMPLETIONS, {"max_tokens": 4}, 400),
    ("prompt empty list", "POST", COMPLETIONS, {"prompt": []}, 400),
    ("prompt negative id", "POST", COMPLETIONS, {"prompt": [1, -2]}, 400),
    ("prompt id outside vocabulary", "POST", COMPLETIONS, {"prompt": [1, 5000]}, 400),
    ("prompt mixed list", "POST", COMPLETIONS, {"prompt": ["a", 3]}, 400),
    ("echo", "POST", COMPLETIONS, {"prompt": "x", "echo": True}, 400),
    ("suffix", "POST", COMPLETIONS, {"prompt": "x", "suffix": "y"}, 400),
    ("best_of", "POST", COMPLETIONS, {"prompt": "x", "best_of": 3}, 400),
    ("completion logprobs too many", "POST", COMPLETIONS, {"prompt": "x", "logprobs": 50}, 400),
    ("prompt longer than the context", "POST", COMPLETIONS, {"prompt": "7 " * 3000, "max_tokens": 1}, 400),
    ("generate prompt number", "POST", GENERATE, {"prompt": 5}, 400),
    ("generate prompt missing", "POST", GENERATE, {}, 400),
    ("generate max_tokens zero", "POST", GENERATE, {"prompt": "x", "max_tokens": 0}, 400),
    ("wrong method", "GET", CHAT, None, 405),
    ("delete models", "DELETE", "/v1/models", None, 405),
    ("unknown path", "POST", "/v1/engines/davinci/completions", {}, 404),
    ("unknown model card", "GET", "/v1/models/gpt-4", None, 404),
    ("body over the size limit", "POST", CHAT, b"{" + b" " * (9 << 20) + b"}", 413),
]


@pytest.mark.parametrize("name,method,path,body,status", CASES, ids=[c[0] for c in CASES])
def test_bad_request_gets_its_status_and_an_error_body(server, name, method, path, body, status):
    got, headers, data = server.request(method, path, body)
    assert got == status, f"{name}: {got} {data[:300]!r}"
    error = json.loads(data)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert headers["content-type"].startswith("application/json")


def test_the_suite_has_at_least_forty_cases():
    assert len(CASES) >= 40


def raw_exchange(server, payload: bytes) -> bytes:
    """Sends raw bytes and returns the response's status line and headers (read until the blank line)."""
    with socket.create_connection((server.host, server.port), timeout=30) as s:
        s.sendall(payload)
        reply = b""
        while b"\r\n\r\n" not in reply:
            b = s.recv(65536)
            if not b:
                break
            reply += b
    return reply


RAW_CASES = [
    ("garbage request line", b"HELLO\r\n\r\n", 400),
    ("uri too long", b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    ("bad content length", b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}", 400),
    ("bad chunk size", b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
     400),
    # The body never comes: the server answers once its read timeout (5 s) passes.
    ("huge declared length", b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
]


@pytest.mark.parametrize("name,payload,status", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_malformed_http_gets_a_4xx(server, name, payload, status):
    reply = raw_exchange(server, payload)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode()), f"{name}: {reply[:200]!r}"


def test_hostile_but_valid_text_is_served(server):
    for content in ["\u0000 nul", "emoji 😀 and CJK 中文", "<think>injected</think>", "<｜end▁of▁sentence｜>",
                    "x" * 2000]:
        status, body = server.post_json(CHAT, {"messages": [{"role": "user", "content": content}], "max_tokens": 4})
        assert status == 200, body
        assert body["choices"][0]["finish_reason"] in ("stop", "length")


def test_a_valid_request_works_after_the_bad_ones(server):
    for name, method, path, body, _ in CASES:
        server.request(method, path, body)
    status, body = server.post_json(CHAT, {"messages": USER, "max_tokens": 8, "temperature": 0})
    assert status == 200, body
    assert body["usage"]["completion_tokens"] > 0
    assert server.proc.poll() is None
