#!/usr/bin/env python3
"""Online serving benchmark against a running OpenAI-compatible server (fp4serve serve, vLLM, ...).

Reports the metrics of `vllm bench serve` at each concurrency level: request throughput, output and total
token throughput, and mean / median / p99 of TTFT (time to first token), TPOT (time per output token after
the first: (E2EL - TTFT) / (output tokens - 1), per request), ITL (gaps between streamed chunks, all
requests pooled) and E2EL (end-to-end latency).

Workload (fixed, so runs compare): random token-id prompts of --input-len tokens sent to /v1/completions
with --output-len tokens each and ignore_eos, streamed with stream_options.include_usage (the usage chunk
gives the exact output token count). Each concurrency level runs --num-prompts requests (default 4 x the
concurrency, at least 16) with at most that many in flight, after one warm-up request.

    python bench/serve_bench.py --url http://127.0.0.1:8000 --concurrency 1,8,32,64 [--json out.json]

Only the standard library is used; the HTTP client is a minimal asyncio HTTP/1.1 one that reads the
chunked event stream as it arrives, so timing includes nothing but the network and the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import random
import statistics
import sys
import time
import urllib.parse
import urllib.request


async def stream_post(host: str, port: int, path: str, body: dict, headers: dict):
    """POSTs JSON and yields (arrival time, SSE data payload) for each event of the chunked response."""
    reader, writer = await asyncio.open_connection(host, port)
    payload = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Content-Length: {len(payload)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    await writer.drain()
    try:
        status_line = await reader.readline()
        status = int(status_line.split()[1])
        chunked = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if status != 200 or not chunked:
            rest = await reader.read()
            raise RuntimeError(f"HTTP {status}: {rest[:300]!r}")
        buffer = b""
        while True:
            size_line = await reader.readline()
            size = int(size_line.strip().split(b";")[0], 16)
            if size == 0:
                break
            data = await reader.readexactly(size + 2)
            now = time.perf_counter()
            buffer += data[:-2]
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if line.startswith(b"data: "):
                        yield now, line[6:].decode()
    finally:
        writer.close()


async def one_request(args, prompt: list[int], results: list, errors: list) -> None:
    body = {"prompt": prompt, "max_tokens": args.output_len, "ignore_eos": True, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True}}
    if args.model:
        body["model"] = args.model
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    start = time.perf_counter()
    token_times, output_tokens, input_tokens = [], 0, len(prompt)
    try:
        async for t, data in stream_post(args.host, args.port, "/v1/completions", body, headers):
            if data == "[DONE]":
                break
            chunk = json.loads(data)
            if chunk.get("usage") and not chunk["choices"]:
                output_tokens = chunk["usage"]["completion_tokens"]
                input_tokens = chunk["usage"]["prompt_tokens"]
            elif chunk["choices"] and chunk["choices"][0].get("text"):
                token_times.append(t)
    except Exception as e:  # noqa: BLE001 - reported as a failed request
        errors.append(repr(e))
        return
    end = time.perf_counter()
    if not token_times:
        errors.append("no tokens streamed")
        return
    results.append({"start": start, "end": end, "ttft": token_times[0] - start, "e2el": end - start,
                    "itl": [b - a for a, b in zip(token_times, token_times[1:])],
                    "output_tokens": output_tokens, "input_tokens": input_tokens})


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarize(samples: list[float]) -> dict:
    return {"mean": statistics.fmean(samples) if samples else float("nan"),
            "median": percentile(samples, 50), "p99": percentile(samples, 99)}


async def run_level(args, concurrency: int, vocab: int) -> dict:
    rng = random.Random(args.seed + concurrency)
    num = args.num_prompts or max(16, 4 * concurrency)
    # Ids from the middle of the vocabulary: ordinary text tokens, no special ones at the low end.
    prompts = [[rng.randrange(vocab // 4, vocab - 1) for _ in range(args.input_len)] for _ in range(num)]
    warm_results: list = []
    await one_request(args, prompts[0], warm_results, [])
    results, errors = [], []
    gate = asyncio.Semaphore(concurrency)

    async def bounded(p):
        async with gate:
            await one_request(args, p, results, errors)

    t0 = time.perf_counter()
    await asyncio.gather(*(bounded(p) for p in prompts))
    duration = time.perf_counter() - t0
    out_tokens = sum(r["output_tokens"] for r in results)
    in_tokens = sum(r["input_tokens"] for r in results)
    tpot = [(r["e2el"] - r["ttft"]) / (r["output_tokens"] - 1) for r in results if r["output_tokens"] > 1]
    itl = [x for r in results for x in r["itl"]]
    return {
        "concurrency": concurrency, "completed": len(results), "failed": len(errors),
        "errors": errors[:3], "duration_s": duration,
        "request_throughput": len(results) / duration,
        "output_throughput": out_tokens / duration,
        "total_token_throughput": (in_tokens + out_tokens) / duration,
        "ttft_ms": {k: v * 1e3 for k, v in summarize([r["ttft"] for r in results]).items()},
        "tpot_ms": {k: v * 1e3 for k, v in summarize(tpot).items()},
        "itl_ms": {k: v * 1e3 for k, v in summarize(itl).items()},
        "e2el_ms": {k: v * 1e3 for k, v in summarize([r["e2el"] for r in results]).items()},
    }


def print_table(levels: list[dict], args) -> None:
    print(f"\nworkload: /v1/completions, random prompts of {args.input_len} tokens, {args.output_len} output tokens "
          f"(ignore_eos), streamed")
    header = ("conc", "done", "fail", "req/s", "out tok/s", "total tok/s", "TTFT mean/med/p99 ms",
              "TPOT mean/med/p99 ms", "ITL mean/med/p99 ms", "E2EL mean/med/p99 ms")
    rows = [header]
    for L in levels:
        def trio(m):
            return f"{m['mean']:.1f}/{m['median']:.1f}/{m['p99']:.1f}"
        rows.append((str(L["concurrency"]), str(L["completed"]), str(L["failed"]), f"{L['request_throughput']:.2f}",
                     f"{L['output_throughput']:.1f}", f"{L['total_token_throughput']:.1f}", trio(L["ttft_ms"]),
                     trio(L["tpot_ms"]), trio(L["itl_ms"]), trio(L["e2el_ms"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for i, r in enumerate(rows):
        print("| " + " | ".join(c.rjust(w) for c, w in zip(r, widths)) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    by_c = {L["concurrency"]: L for L in levels}
    if 1 in by_c:
        for c in sorted(by_c):
            if c != 1:
                ratio = by_c[c]["output_throughput"] / by_c[1]["output_throughput"]
                print(f"output tok/s at concurrency {c} / at 1: {ratio:.2f}x")
    for L in levels:
        itl = L["itl_ms"]
        print(f"concurrency {L['concurrency']}: p99 ITL / median ITL = {itl['p99'] / itl['median']:.2f}")
    for L in levels:
        for e in L["errors"]:
            print(f"concurrency {L['concurrency']} error: {e}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--api-key", default="")
    ap.add_argument("--model", default="", help="model name to send (default: the first of /v1/models)")
    ap.add_argument("--concurrency", default="1,8,32,64", help="comma-separated levels")
    ap.add_argument("--input-len", type=int, default=128)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--num-prompts", type=int, default=0, help="requests per level (default 4 x concurrency, >= 16)")
    ap.add_argument("--model-dir", default=str(pathlib.Path(__file__).resolve().parents[1] / "models" / "tiny-r1"),
                    help="the served model's folder (its config.json vocab_size bounds the random prompt ids)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default="", help="also write the results to this file")
    args = ap.parse_args()
    url = urllib.parse.urlparse(args.url)
    args.host, args.port = url.hostname, url.port or 80

    req = urllib.request.Request(args.url + "/v1/models",
                                 headers={"Authorization": f"Bearer {args.api_key}"} if args.api_key else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        card = json.load(r)["data"][0]
    args.model = args.model or card["id"]
    # Prompt ids must lie inside the model's vocabulary: read its size from the model folder.
    with open(pathlib.Path(args.model_dir) / "config.json") as f:
        vocab = int(json.load(f)["vocab_size"])
    levels = [asyncio.run(run_level(args, int(c), vocab)) for c in args.concurrency.split(",")]
    print_table(levels, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "url": args.url, "input_len": args.input_len,
                       "output_len": args.output_len, "levels": levels}, f, indent=2)
    return 0 if all(L["failed"] == 0 for L in levels) else 1


if __name__ == "__main__":
    sys.exit(main())
