"""Greedy output of transformers versus `fp4serve generate`, prompt by prompt, on the CPU.

    python3 tools/tiny_r1/compare_engines.py --release models/tiny-r1 --fp4serve build/src/fp4serve \\
        --seed 20261202 --per-family 2 --out compare.json
    # the NVFP4 model `fp4serve quantize models/tiny-r1 Q --format nvfp4` wrote:
    python3 tools/tiny_r1/compare_engines.py --release models/tiny-r1 --nvfp4-folder Q ...

The prompts are per-family problems of problems.evaluation_set(seed, per_family) (every family
in turn).  transformers runs DeepseekV3ForCausalLM in fp32 on the dequantized weights (FP8 block
release, or the NVFP4 folder read back by nvfp4_recipe.read_nvfp4_folder), eager attention and
its per-expert loop, one prompt at a time (no padding), generate(do_sample=False).  fp4serve
runs `generate -m MODEL --chat -p PROMPT --temperature 0`; its standard output is the decoded
completion and one newline.  A prompt agrees when the two completions are the same text, end
token included; the cap is the prompt's reference completion length + --margin tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chat_format  # noqa: E402
import evaluate  # noqa: E402
import export_fp8  # noqa: E402
import nvfp4_recipe  # noqa: E402
import problems  # noqa: E402


def ours(fp4serve: str, model_dir: str, prompt: str, max_tokens: int, threads: int) -> str:
    result = subprocess.run([fp4serve, "generate", "-m", model_dir, "--chat", "-p", prompt, "--temperature", "0",
                             "--max-tokens", str(max_tokens), "--threads", str(threads)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"fp4serve generate failed ({result.returncode}): {result.stderr.strip()[-400:]}")
    if not result.stdout.endswith("\n"):
        raise RuntimeError(f"fp4serve generate: output does not end in a newline: {result.stdout[-80:]!r}")
    return result.stdout[:-1]


@torch.no_grad()
def theirs(model, tok, prompt: str, max_tokens: int) -> str:
    ids = tok.encode(chat_format.render_prompt(prompt), add_special_tokens=False)
    out = model.generate(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         do_sample=False, max_new_tokens=max_tokens, pad_token_id=2, eos_token_id=1)
    return tok.decode(out[0, len(ids):].tolist(), skip_special_tokens=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", required=True, help="FP8 release folder (config and tokenizer)")
    parser.add_argument("--nvfp4-folder", default="", help="compare this NVFP4 folder instead of the release")
    parser.add_argument("--fp4serve", required=True, help="path of the fp4serve binary")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--per-family", type=int, default=2)
    parser.add_argument("--margin", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.release)
    state = nvfp4_recipe.read_nvfp4_folder(args.nvfp4_folder) if args.nvfp4_folder else None
    model = export_fp8.load_release_model(args.release, "cpu", state)
    evaluate.set_experts_mode(model, "eager")
    items = problems.evaluation_set(args.seed, args.per_family)
    by_family: dict[str, list[problems.Problem]] = {}
    for p in items:
        by_family.setdefault(p.family, []).append(p)
    picks = [by_family[f][i] for i in range(args.per_family) for f in problems.EVAL_FAMILIES]
    model_dir = args.nvfp4_folder or args.release
    report = {"release": args.release, "model": model_dir, "seed": args.seed, "prompts": []}
    agree = 0
    for p in picks:
        started = time.time()
        cap = evaluate.completion_lengths(tok, [p])[0] + args.margin
        a, b = theirs(model, tok, p.prompt, cap), ours(args.fp4serve, model_dir, p.prompt, cap, args.threads)
        same = a == b
        agree += same
        entry = {"family": p.family, "prompt": p.prompt, "identical": same,
                 "correct_transformers": problems.answer_is_correct(p.family, a, p.answer),
                 "correct_fp4serve": problems.answer_is_correct(p.family, b, p.answer)}
        if not same:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            entry.update(first_difference=at, transformers=a[max(0, at - 80): at + 80], fp4serve=b[max(0, at - 80): at + 80])
        report["prompts"].append(entry)
        print(f"{p.family:10s} identical={same} ({time.time() - started:.1f} s)", flush=True)
    report["identical"] = f"{agree}/{len(picks)}"
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
    print("identical:", report["identical"])
    sys.exit(0 if agree == len(picks) else 1)


if __name__ == "__main__":
    main()
