"""Measure tiny-r1's accuracy on freshly generated problems with transformers.

    python3 tools/tiny_r1/evaluate.py --release models/tiny-r1 --seed 20261129 --per-family 1000 \\
        --out eval.json [--deadline-s 250]

The model is the release's FP8 weights dequantized to fp32 (export_fp8.load_release_model),
eager attention.  Prompts are rendered by the release's own chat template with
add_generation_prompt (checked against chat_format.render_prompt first), batches are left
padded, and a completion counts as correct when its last \\boxed{} matches the exact answer
(problems.answer_is_correct).  Each batch holds every problem twice: once decoded greedily and
once sampled at temperature 0.6 / top_p 0.95 (see GreedyRows).

Routed experts: by default every expert is applied to every token and non-selected ones are
weighted by zero ("dense"), which is the same fp32 math as transformers' per-expert loop
("eager") in another summation order but far fewer kernel launches; --check-prompts N compares
the two on N prompts' greedy outputs and records the agreement.

--deadline-s stops starting new batches after that many seconds; the JSON then says how many
problems each figure covers.

--engine fast (the default) decodes with fast_generate.generate_rows instead of generate():
the same modules and per-row math, with finished rows dropped and rows grouped by length, and
each completion capped at its own reference length + --margin tokens (a correct completion
follows the reference's format, so it is never longer).  The problems then run in passes
(--passes, counts per family; the last pass takes the rest), and a deadline keeps only the
passes that finished, so every family is measured on the same problems.  --check-prompts N
also compares the fast engine's greedy output with generate()'s on N prompts.

--weights nvfp4 measures what `fp4serve quantize RELEASE OUT --format nvfp4` (default recipe)
makes of the release, computed by nvfp4_recipe.simulated_nvfp4_state; --nvfp4-folder reads a
folder that quantizer wrote instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chat_format  # noqa: E402
import export_fp8  # noqa: E402
import fast_generate  # noqa: E402
import nvfp4_recipe  # noqa: E402
import problems  # noqa: E402


def dense_experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """hidden_states [T, H], top_k_index/top_k_weights [T, K] -> [T, H], all experts in one pass."""
    num_tokens = hidden_states.shape[0]
    gate_up = torch.einsum("th,eoh->eto", hidden_states, self.gate_up_proj)     # [E, T, 2I]
    gate, up = gate_up.chunk(2, dim=-1)
    act = torch.nn.functional.silu(gate) * up                                   # [E, T, I]
    expert_out = torch.einsum("eti,ehi->eth", act, self.down_proj)              # [E, T, H]
    weights = torch.zeros(num_tokens, self.num_experts, dtype=expert_out.dtype, device=expert_out.device)
    weights.scatter_(1, top_k_index, top_k_weights.to(expert_out.dtype))        # [T, E]
    return torch.einsum("eth,te->th", expert_out, weights).to(hidden_states.dtype)


def set_experts_mode(model, mode: str) -> None:
    for layer in model.model.layers:
        experts = getattr(layer.mlp, "experts", None)
        if experts is None:
            continue
        if mode == "dense":
            experts.forward = types.MethodType(dense_experts_forward, experts)
        elif "forward" in experts.__dict__:
            del experts.forward
    if mode == "eager":
        model.config._experts_implementation = "eager"


def completion_lengths(tok, items: list[problems.Problem]) -> list[int]:
    return [len(tok.encode(chat_format.render_completion(p.reasoning, p.response), add_special_tokens=False))
            for p in items]


class GreedyRows:
    """Logits processor that turns the first n_greedy rows of a sampled batch into argmax picks.

    Everything but each such row's largest logit becomes -inf, so sampling can only pick the
    argmax, which temperature scaling and top-p never change: those rows decode exactly as
    do_sample=False would, while the other rows sample.  This lets one generate() call measure
    both settings on the same problems.
    """

    def __init__(self, n_greedy: int):
        self.n_greedy = n_greedy

    def __call__(self, input_ids, scores):                              # scores [B, V]
        head = scores[: self.n_greedy]
        best = head.argmax(dim=-1, keepdim=True)                        # [n, 1]
        masked = torch.full_like(head, float("-inf"))
        masked.scatter_(1, best, head.gather(1, best))
        scores = scores.clone()
        scores[: self.n_greedy] = masked
        return scores


@torch.no_grad()
def generate(model, tok, prompts: list[str], max_new_tokens: int, n_greedy: int, seed: int, device: str) -> list[str]:
    """Completions of prompts: rows < n_greedy greedy, the rest at temperature 0.6 / top_p 0.95."""
    from transformers import LogitsProcessorList

    encoded = [tok.encode(p, add_special_tokens=False) for p in prompts]
    width = max(len(e) for e in encoded)
    ids = torch.full((len(encoded), width), 2, dtype=torch.long)       # [B, L] left padded
    mask = torch.zeros((len(encoded), width), dtype=torch.long)        # [B, L]
    for row, e in enumerate(encoded):
        ids[row, width - len(e):] = torch.tensor(e)
        mask[row, width - len(e):] = 1
    kwargs = dict(max_new_tokens=max_new_tokens, pad_token_id=2, eos_token_id=1)
    if n_greedy == len(prompts):
        kwargs.update(do_sample=False)
    else:
        torch.manual_seed(seed)
        kwargs.update(do_sample=True, temperature=0.6, top_p=0.95, top_k=0,
                      logits_processor=LogitsProcessorList([GreedyRows(n_greedy)]))
    out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **kwargs)
    return tok.batch_decode(out[:, width:].tolist(), skip_special_tokens=False)


def strip_padding(text: str) -> str:
    return text.replace(chat_format.PAD, "")


def evaluate(args) -> dict:
    from transformers import AutoTokenizer

    start = time.time()
    device = args.device
    tok = AutoTokenizer.from_pretrained(args.release)
    sample_messages = [{"role": "user", "content": "What is 2 + 3?"}]
    rendered = tok.apply_chat_template(sample_messages, add_generation_prompt=True, tokenize=False)
    if rendered != chat_format.render_prompt("What is 2 + 3?"):
        raise RuntimeError(f"chat template renders {rendered!r}, expected {chat_format.render_prompt('What is 2 + 3?')!r}")
    if args.nvfp4_folder:
        state, weights = nvfp4_recipe.read_nvfp4_folder(args.nvfp4_folder), "NVFP4 file dequantized to fp32"
    elif args.weights == "nvfp4":
        state = nvfp4_recipe.simulated_nvfp4_state(args.release)
        weights = "NVFP4 (fp4serve quantize default recipe, computed from the FP8 file) dequantized to fp32"
    else:
        state, weights = None, "FP8 block weights dequantized to fp32"
    model = export_fp8.load_release_model(args.release, device, state)
    items = problems.evaluation_set(args.seed, args.per_family)
    by_family: dict[str, list[problems.Problem]] = {}
    for p in items:
        by_family.setdefault(p.family, []).append(p)
    report = {"release": os.path.basename(os.path.normpath(args.release)), "seed": args.seed,
              "per_family": args.per_family, "weights": weights, "decoder": args.engine,
              "engine": "transformers DeepseekV3ForCausalLM, eager attention", "experts": args.experts,
              "device": device,
              "modes": {}, "examples": {}}

    if args.check_prompts:
        rounds = range(min(args.per_family, args.check_prompts))
        picks = [by_family[f][i] for i in rounds for f in problems.EVAL_FAMILIES][: args.check_prompts]
        prompts = [chat_format.render_prompt(p.prompt) for p in picks]
        longest = max(completion_lengths(tok, picks)) + 32
        for limit in (args.max_new_cap, args.check_cap):
            if limit:
                longest = min(longest, limit)
        set_experts_mode(model, "eager")
        eager = generate(model, tok, prompts, longest, len(prompts), 0, device)
        set_experts_mode(model, "dense")
        dense = generate(model, tok, prompts, longest, len(prompts), 0, device)
        report["dense_vs_eager_greedy_identical"] = f"{sum(a == b for a, b in zip(eager, dense))}/{len(picks)}"
        print("dense vs eager greedy identical:", report["dense_vs_eager_greedy_identical"], flush=True)
        if args.engine == "fast":
            rows = [fast_generate.Row(tok.encode(p, add_special_tokens=False), longest, True) for p in prompts]
            fast = fast_generate.generate_rows(model, rows, device, 0, log=lambda *a: None)
            fast_text = [tok.decode(ids, skip_special_tokens=False) for ids in fast]
            same = sum(strip_padding(a).replace(chat_format.EOS, "") == b for a, b in zip(dense, fast_text))
            report["fast_vs_generate_greedy_identical"] = f"{same}/{len(picks)}"
            print("fast vs generate greedy identical:", report["fast_vs_generate_greedy_identical"], flush=True)
    set_experts_mode(model, args.experts)
    if args.engine == "fast":
        return _evaluate_fast(args, model, tok, by_family, report, start)

    stats: dict[str, dict] = {"greedy": {}, "sampled": {}}
    for family in args.families.split(","):
        if args.deadline_s and time.time() - start > args.deadline_s:
            for mode in stats:
                stats[mode][family] = {"skipped": "deadline"}
            continue
        fam_items = by_family[family]
        # Room for the longest reference completion of the family plus a margin.
        max_new = max(completion_lengths(tok, fam_items)) + 64
        if args.max_new_cap:
            max_new = min(max_new, args.max_new_cap)
        counts = {mode: [0, 0] for mode in stats}
        for lo in range(0, len(fam_items), args.batch):
            chunk = fam_items[lo: lo + args.batch]
            prompts = [chat_format.render_prompt(p.prompt) for p in chunk]
            outs = generate(model, tok, prompts + prompts, max_new, len(chunk), args.seed + lo, device)
            for mode, texts in (("greedy", outs[: len(chunk)]), ("sampled", outs[len(chunk):])):
                for p, text in zip(chunk, texts):
                    ok = problems.answer_is_correct(p.family, text, p.answer)
                    counts[mode][0] += ok
                    counts[mode][1] += 1
                    key = f"{mode}/{family}"
                    if not ok and len(report["examples"].setdefault(key, [])) < 3:
                        report["examples"][key].append({"prompt": p.prompt, "expected": p.answer,
                                                        "output": strip_padding(text)[-400:]})
        for mode, (correct, done) in counts.items():
            stats[mode][family] = {"correct": correct, "total": done, "accuracy": round(correct / max(done, 1), 4)}
            print(mode, family, stats[mode][family], f"{time.time() - start:.0f}s", flush=True)
        report["modes"] = stats
        _write(args.out, report)
    for mode, table in stats.items():
        scored = [v for v in table.values() if "total" in v]
        correct, total = sum(v["correct"] for v in scored), sum(v["total"] for v in scored)
        table["overall"] = {"correct": correct, "total": total, "accuracy": round(correct / max(total, 1), 4)}
    report["seconds"] = round(time.time() - start, 1)
    _write(args.out, report)
    return report


def _evaluate_fast(args, model, tok, by_family: dict, report: dict, start: float) -> dict:
    families = args.families.split(",")
    counts = [int(c) for c in args.passes.split(",") if c] if args.passes else []
    bounds, lo = [], 0
    for c in counts:
        if lo + c < args.per_family:
            bounds.append((lo, lo + c))
            lo += c
    bounds.append((lo, args.per_family))
    report["cap"] = f"reference completion length + {args.margin} tokens"
    report["passes"] = [list(b) for b in bounds]
    modes = ("greedy",) if args.greedy_only else ("greedy", "sampled")
    results: dict[tuple[str, str], list[bool]] = {(m, f): [] for m in modes for f in families}
    deadline = start + args.deadline_s if args.deadline_s else None
    completed = 0
    for number, (a, b) in enumerate(bounds):
        picks = [p for f in families for p in by_family[f][a:b]]
        lengths = completion_lengths(tok, picks)
        rows, keys = [], []
        for p, n in zip(picks, lengths):
            ids = tok.encode(chat_format.render_prompt(p.prompt), add_special_tokens=False)
            for mode in modes:
                cap = min(n + args.margin, args.max_new_cap) if args.max_new_cap else n + args.margin
                rows.append(fast_generate.Row(ids, cap, mode == "greedy"))
                keys.append((mode, p))
        outs = fast_generate.generate_rows(model, rows, args.device, args.seed + number, budget_bytes=args.cache_gb * 1e9,
                                           deadline=deadline, log=lambda *m: print(*m, flush=True))
        if any(o is None for o in outs):
            print(f"pass {number + 1} ({a}..{b} per family) cut by the deadline; not counted", flush=True)
            break
        for (mode, p), ids in zip(keys, outs):
            text = tok.decode(ids, skip_special_tokens=False)
            ok = problems.answer_is_correct(p.family, text, p.answer)
            results[(mode, p.family)].append(ok)
            key = f"{mode}/{p.family}"
            if not ok and len(report["examples"].setdefault(key, [])) < 3:
                report["examples"][key].append({"prompt": p.prompt, "expected": p.answer,
                                                "output": strip_padding(text)[-400:]})
        completed = b
        print(f"pass {number + 1} done ({b} per family) {time.time() - start:.0f}s", flush=True)
        _write_fast_stats(args, report, modes, families, results, completed, start)
    _write_fast_stats(args, report, modes, families, results, completed, start)
    return report


def _write_fast_stats(args, report: dict, modes, families, results: dict, completed: int, start: float) -> None:
    """Accuracy tables of the passes finished so far, written to args.out (a run cut short keeps them)."""
    report["problems_per_family_measured"] = completed
    stats: dict[str, dict] = {}
    for mode in modes:
        table = {}
        for f in families:
            oks = results[(mode, f)]
            table[f] = {"correct": sum(oks), "total": len(oks), "accuracy": round(sum(oks) / max(len(oks), 1), 4)}
        correct = sum(v["correct"] for v in table.values())
        total = sum(v["total"] for v in table.values())
        table["overall"] = {"correct": correct, "total": total, "accuracy": round(correct / max(total, 1), 4)}
        stats[mode] = table
    report["modes"] = stats
    report["seconds"] = round(time.time() - start, 1)
    _write(args.out, report)


def _write(path: str, report: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--per-family", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000, help="problems a batch (each decoded twice)")
    parser.add_argument("--families", default=",".join(problems.EVAL_FAMILIES), help="comma-separated subset")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: its default)")
    parser.add_argument("--experts", choices=["dense", "eager"], default="dense")
    parser.add_argument("--check-prompts", type=int, default=0)
    parser.add_argument("--check-cap", type=int, default=0, help="cap on new tokens of the --check-prompts runs")
    parser.add_argument("--max-new-cap", type=int, default=0, help="cap on new tokens (smoke tests only)")
    parser.add_argument("--deadline-s", type=float, default=0.0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--engine", choices=["fast", "generate"], default="fast")
    parser.add_argument("--passes", default="", help="fast engine: problems per family of each pass but the last")
    parser.add_argument("--margin", type=int, default=64, help="fast engine: new-token cap beyond the reference")
    parser.add_argument("--cache-gb", type=float, default=40.0, help="fast engine: cache memory per batch")
    parser.add_argument("--greedy-only", action="store_true", help="fast engine: skip the sampled decode")
    parser.add_argument("--weights", choices=["fp8", "nvfp4"], default="fp8")
    parser.add_argument("--nvfp4-folder", default="", help="an NVFP4 folder written by fp4serve quantize")
    args = parser.parse_args()
    unknown = set(args.families.split(",")) - set(problems.EVAL_FAMILIES)
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}; choose from {problems.EVAL_FAMILIES}")
    if args.threads:
        torch.set_num_threads(args.threads)
    report = evaluate(args)
    for mode, stats in report["modes"].items():
        print(mode, json.dumps({k: v.get("accuracy", v) for k, v in stats.items()}))


if __name__ == "__main__":
    main()
