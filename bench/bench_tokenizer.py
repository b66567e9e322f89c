#!/usr/bin/env python3
"""Single-thread encode throughput of the C++ tokenizer against Hugging Face `tokenizers`, same run, same corpus.

For every tokenizer: the generated corpus (tools/tokenizer_corpus.py, each string encoded on its own), then one
1 MB and one 10 MB document (to show that time grows linearly with input size). Both sides encode without added
special tokens, after one untimed warm-up pass; HF runs with RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false.
The C++ side is timed inside tests/tools/tokenize_tool (process start and file loading excluded, as for HF).

Usage: python3 bench/bench_tokenizer.py [--build build] [--repeats 3] [--out bench/results/tokenizer.md]
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "python"))
sys.path.insert(0, str(REPO / "tools"))

from test_tokenizer_common import real_tokenizer_dir  # noqa: E402
import tokenizer_corpus  # noqa: E402

TOKENIZERS = ["deepseek-v3", "deepseek-r1", "deepseek-r1-0528-qwen3-8b", "deepseek-r1-distill-qwen-7b",
              "deepseek-r1-distill-llama-8b", "qwen-2.5", "qwen-3", "meta-llama-3-8b", "llama-3.2-90b-vision"]

HF_SCRIPT = r"""
import json, sys, time
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
texts = json.load(open(sys.argv[2], encoding="utf-8"))
repeats = int(sys.argv[3])
tok.encode_batch(texts, add_special_tokens=False)
start = time.perf_counter()
tokens = 0
for _ in range(repeats):
    tokens += sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
seconds = time.perf_counter() - start
print(json.dumps({"bytes": repeats * sum(len(t.encode("utf-8")) for t in texts), "seconds": seconds, "tokens": tokens}))
"""


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_ours(tool, tokenizer_json, corpus_file, repeats):
    out = subprocess.run([str(tool), "bench", str(tokenizer_json), str(corpus_file), str(repeats)],
                         capture_output=True, check=True, timeout=3600)
    return json.loads(out.stdout)


def run_hf(tokenizer_json, corpus_file, repeats):
    env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    out = subprocess.run([sys.executable, "-c", HF_SCRIPT, str(tokenizer_json), str(corpus_file), str(repeats)],
                         capture_output=True, check=True, env=env, timeout=3600)
    return json.loads(out.stdout)


def document(corpus, size):
    parts, total = [], 0
    for text in corpus:
        parts.append(text)
        total += len(text.encode("utf-8"))
        if total >= size:
            break
    while total < size:  # repeat the corpus until the document is big enough
        parts.extend(parts)
        total *= 2
    return "".join(parts).encode("utf-8")[:size].decode("utf-8", errors="ignore")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.environ.get("FP4SERVE_BUILD", str(REPO / "build")))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokenizers", nargs="*", default=TOKENIZERS)
    parser.add_argument("--out", default=None, help="also write the Markdown table to this file")
    args = parser.parse_args()
    tool = pathlib.Path(args.build) / "tests" / "tokenize_tool"
    if not tool.exists():
        sys.exit(f"{tool} is missing: build the project first")

    corpus = tokenizer_corpus.generate()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        inputs = {"corpus": corpus, "1 MB doc": [document(corpus, 1_000_000)], "10 MB doc": [document(corpus, 10_000_000)]}
        files = {}
        for name, texts in inputs.items():
            files[name] = scratch / (name.replace(" ", "_") + ".json")
            files[name].write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        for name in args.tokenizers:
            tokenizer_json = real_tokenizer_dir(name, scratch) / "tokenizer.json"
            for input_name, path in files.items():
                repeats = args.repeats if input_name == "corpus" else 1
                ours = run_ours(tool, tokenizer_json, path, repeats)
                hf = run_hf(tokenizer_json, path, repeats)
                ours_mbs = ours["bytes"] / ours["seconds"] / 1e6
                hf_mbs = hf["bytes"] / hf["seconds"] / 1e6
                same_count = "yes" if ours["tokens"] == hf["tokens"] else f"no ({ours['tokens']} vs {hf['tokens']})"
                rows.append((name, input_name, ours_mbs, hf_mbs, ours_mbs / hf_mbs, same_count))
                print(f"{name:30s} {input_name:10s} ours {ours_mbs:8.2f} MB/s  hf {hf_mbs:7.2f} MB/s  "
                      f"x{ours_mbs / hf_mbs:6.2f}  same token count: {same_count}", flush=True)

    command = "python3 bench/bench_tokenizer.py " + " ".join(sys.argv[1:])
    lines = [
        "# Tokenizer encode throughput, single thread",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu_name()} ({os.cpu_count()} logical CPUs visible; the machine may be shared)",
        f"- command: `{command.strip()}`",
        f"- corpus: tools/tokenizer_corpus.py default seed, {len(corpus)} strings, "
        f"{sum(len(s.encode()) for s in corpus)} bytes, each encoded on its own; repeats {args.repeats}",
        "- HF `tokenizers` (pinned in requirements-test.txt) with RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false",
        "",
        "| tokenizer | input | fp4serve MB/s | HF MB/s | speed-up | same token count |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, input_name, ours_mbs, hf_mbs, ratio, same in rows:
        lines.append(f"| {name} | {input_name} | {ours_mbs:.2f} | {hf_mbs:.2f} | {ratio:.2f}x | {same} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
