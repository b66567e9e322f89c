"""Train tiny-r1 (transformers DeepseekV3ForCausalLM) on synthetic reasoning data.

    python3 tools/tiny_r1/train.py --tokenizer models/tiny-r1/tokenizer.json --out out/run \\
        --seed 1234 --time-budget 330          # or --steps N to repeat a run exactly

Mixed precision: fp32 master weights, bf16 autocast; the routed experts run as one grouped
GEMM per projection in bf16.  The router's e_score_correction_bias is not trained by the
optimizer: after every step it moves by DeepSeek-V3's auxiliary-loss-free rule

    bias_e += gamma * sign(mean_load - load_e)

where load_e counts the (non-padding) tokens that chose expert e in that step.  The biases are
then shifted so that each layer's smallest is 0; selection depends only on bias differences, so
the shift changes nothing, and non-negative biases make masked-out groups lose whether an
engine masks them with 0 or with -inf (spec §6).

With --time-budget the number of steps is fixed after 40 timed steps (budget / step time) and
printed; the learning-rate schedule uses that count, and --steps reproduces the run.

Quantization-aware training (--qat-start F, --qat-every N): from step F * total on, every N-th
step runs the forward with the linears that `fp4serve quantize --format nvfp4` converts (the
dense MLP, the routed and the shared experts) replaced by what they become after the FP8 export
and that quantizer (nvfp4_recipe.fake_quantize_group: FP8 block round trip, BF16, NVFP4 with the
fused gate/up scale).  Gradients pass straight through to the fp32 master weights.  The other
steps train the plain weights, so both the FP8 release and its NVFP4 quantization are trained.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import types

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import model_config  # noqa: E402
import nvfp4_recipe  # noqa: E402


def straight_through(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """weights of one fused group -> their FP8+NVFP4 values forward, identity backward."""
    quantized = nvfp4_recipe.fake_quantize_group(weights)
    return [w + (q - w).detach() for w, q in zip(weights, quantized)]


def expert_weights(experts) -> tuple[torch.Tensor, torch.Tensor]:
    """(gate_up_proj [E, 2I, H], down_proj [E, H, I]), fake-quantized when experts.qat is set.

    gate and up of one expert are one fused NVFP4 group; in the fused tensor they are the two
    halves of expert e's [2I, H] slice, so the per-expert amax is the group's.
    """
    if getattr(experts, "qat", False):
        return straight_through([experts.gate_up_proj])[0], straight_through([experts.down_proj])[0]
    return experts.gate_up_proj, experts.down_proj


def qat_mlp_forward(self, x):
    """DeepseekV3MLP.forward (dense MLP, shared experts) with fake-quantized weights when self.qat."""
    if not getattr(self, "qat", False):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))
    gate, up = straight_through([self.gate_proj.weight, self.up_proj.weight])
    (down,) = straight_through([self.down_proj.weight])
    return F.linear(self.act_fn(F.linear(x, gate)) * F.linear(x, up), down)


def quantized_modules(model) -> list:
    """The modules whose weights the default NVFP4 recipe quantizes (each gets a .qat switch)."""
    out = []
    for layer in model.model.layers:
        mlp = layer.mlp
        if hasattr(mlp, "experts"):
            out += [mlp.experts, mlp.shared_experts]
        else:
            out.append(mlp)
    for module in out:
        if hasattr(module, "gate_proj"):
            module.forward = types.MethodType(qat_mlp_forward, module)
        module.qat = False
    return out


def set_qat(modules: list, enabled: bool) -> None:
    for module in modules:
        module.qat = enabled


def grouped_experts_forward(self, hidden_states, top_k_index, top_k_weights):
    """Routed experts as two grouped GEMMs in the autocast dtype (bf16 on the GPU).

    hidden_states [T, H], top_k_index [T, K], top_k_weights [T, K] -> [T, H].
    Same math as DeepseekV3Experts.forward; grouped_mm wants bf16 operands, so the fp32
    master weights are cast here (the cast is differentiable).
    """
    num_tokens, top_k = top_k_index.shape
    flat_expert = top_k_index.reshape(-1)                              # [T*K]
    order = torch.argsort(flat_expert, stable=True)                    # [T*K]
    token_of = order // top_k                                          # [T*K]
    counts = torch.bincount(flat_expert, minlength=self.num_experts)   # [E]
    offsets = torch.cumsum(counts, 0).to(torch.int32)                  # [E]
    dtype = torch.bfloat16
    gate_up_proj, down_proj = expert_weights(self)                     # [E, 2I, H], [E, H, I]
    x = hidden_states[token_of].to(dtype)                              # [T*K, H]
    gate_up = F.grouped_mm(x, gate_up_proj.to(dtype).transpose(1, 2), offs=offsets)  # [T*K, 2I]
    gate, up = gate_up.chunk(2, dim=-1)
    act = F.silu(gate) * up                                            # [T*K, I]
    out = F.grouped_mm(act, down_proj.to(dtype).transpose(1, 2), offs=offsets)       # [T*K, H]
    weights = top_k_weights.reshape(-1)[order].unsqueeze(-1)           # [T*K, 1]
    out = out.float() * weights
    result = torch.zeros(num_tokens, hidden_states.shape[-1], dtype=torch.float32, device=out.device)
    result.index_add_(0, token_of, out)
    return result.to(hidden_states.dtype)


class LoadBalancer:
    """Counts expert loads through router hooks and applies the bias update after each step."""

    def __init__(self, model, gamma: float):
        self.gamma = gamma
        self.routers = [layer.mlp.gate for layer in model.model.layers if hasattr(layer.mlp, "gate")]
        self.counts = [torch.zeros(r.num_experts, device=r.weight.device) for r in self.routers]
        self.valid = None  # [T] bool, the non-padding tokens of the current batch
        for i, router in enumerate(self.routers):
            router.register_forward_hook(self._make_hook(i))

    def _make_hook(self, index: int):
        def hook(module, inputs, output):
            if not module.training:
                return
            top_k_indices = output[2]                                  # [T, K]
            if self.valid is not None:
                top_k_indices = top_k_indices[self.valid]
            self.counts[index] += torch.bincount(top_k_indices.reshape(-1), minlength=module.num_experts).float()
        return hook

    @torch.no_grad()
    def update(self) -> list[float]:
        """Applies the sign rule; returns each layer's max load / mean load (1.0 = balanced)."""
        imbalance = []
        for router, load in zip(self.routers, self.counts):
            mean = load.mean()
            router.e_score_correction_bias += self.gamma * torch.sign(mean - load)
            router.e_score_correction_bias -= router.e_score_correction_bias.min()
            imbalance.append(load.max() / mean.clamp_min(1.0))
            load.zero_()
        return imbalance  # tensors: reading them forces a device sync, so only at log steps


def grouped_experts_work(model, device: str) -> bool:
    """One forward/backward through the grouped expert path on a tiny batch (no update)."""
    try:
        ids = torch.randint(3, 100, (2, 16), device=device)
        with torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16):
            model(input_ids=ids).logits.float().sum().backward()
        model.zero_grad(set_to_none=True)
        return True
    except (RuntimeError, NotImplementedError, TypeError) as error:
        print(f"grouped experts failed: {error}", flush=True)
        return False


def learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def build_model(device: str, experts: str, init_from: str = ""):
    from transformers import DeepseekV3ForCausalLM

    if init_from:
        # Continue from a release folder: its FP8 weights dequantized, its routing biases kept.
        import export_fp8
        model = export_fp8.load_release_model(init_from, device)
        model.config._attn_implementation = "sdpa"
        model.config._experts_implementation = "grouped_mm"
    else:
        config = model_config.make_config()
        config._attn_implementation = "sdpa"
        model = DeepseekV3ForCausalLM(config).to(device)
    if experts == "grouped":
        for layer in model.model.layers:
            if hasattr(layer.mlp, "experts"):
                layer.mlp.experts.forward = types.MethodType(grouped_experts_forward, layer.mlp.experts)
    else:
        model.config._experts_implementation = "eager"
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--out", required=True, help="folder for the checkpoint and training log")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--steps", type=int, default=0, help="exact step count (0: derive from --time-budget)")
    parser.add_argument("--time-budget", type=float, default=300.0, help="seconds of training when --steps is 0")
    parser.add_argument("--tokens-per-batch", type=int, default=65536)
    parser.add_argument("--max-len", type=int, default=768)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=150)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--bias-gamma", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--init-from", default="", help="release folder to continue training from")
    parser.add_argument("--mixture", choices=sorted(data.problems.MIXTURES), default="phase1",
                        help="family weights (problems.MIXTURES)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--experts", choices=["grouped", "eager"], default="grouped")
    parser.add_argument("--qat-start", type=float, default=1.0,
                        help="fraction of the steps after which quantization-aware steps begin (1: none)")
    parser.add_argument("--qat-every", type=int, default=2, help="every N-th step from --qat-start on is one")
    args = parser.parse_args()
    if args.qat_every < 1 or not 0.0 <= args.qat_start <= 1.0:
        parser.error("--qat-every must be >= 1 and --qat-start in [0, 1]")

    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    model = build_model(args.device, args.experts, args.init_from)
    if args.max_len > model.config.max_position_embeddings:
        parser.error(f"--max-len {args.max_len} exceeds the model's max_position_embeddings "
                     f"{model.config.max_position_embeddings}")
    if args.experts == "grouped" and not grouped_experts_work(model, args.device):
        print("grouped expert GEMMs unavailable here; using transformers' per-expert loop", flush=True)
        torch.manual_seed(args.seed)
        model = build_model(args.device, "eager", args.init_from)
    if args.experts == "eager" and args.qat_start < 1.0:
        parser.error("quantization-aware steps need the grouped expert path (--experts grouped)")
    model.train()
    qat_modules = quantized_modules(model)
    balancer = LoadBalancer(model, args.bias_gamma)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params:,}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "embed" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                                  fused=args.device.startswith("cuda"))
    dataset = data.ProblemBatches(args.tokenizer, args.seed, args.tokens_per_batch, args.max_len,
                                  mixture=args.mixture)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=args.workers,
                                         prefetch_factor=4 if args.workers else None,
                                         persistent_workers=bool(args.workers))
    total_steps = args.steps if args.steps > 0 else 10**9
    log = {"args": vars(args), "parameters": n_params, "history": []}
    start = time.time()
    timing_start = None
    step = 0
    tokens_seen = 0
    qat_steps = 0
    autocast = torch.autocast(device_type="cuda" if args.device.startswith("cuda") else "cpu", dtype=torch.bfloat16)
    for input_ids, labels in loader:
        if step >= total_steps:
            break
        input_ids = input_ids.to(args.device, non_blocking=True)          # [B, L]
        labels = labels.to(args.device, non_blocking=True)                # [B, L]
        balancer.valid = (input_ids != model.config.pad_token_id).reshape(-1)
        lr = learning_rate(step, total_steps if total_steps < 10**9 else 10**6, args.lr, args.warmup)
        for group in optimizer.param_groups:
            group["lr"] = lr
        # The step count is known from step 50 on (time budget) or from the start (--steps).
        known_total = total_steps if total_steps < 10**9 else None
        qat = (known_total is not None and step >= args.qat_start * known_total
               and step % args.qat_every == args.qat_every - 1)
        set_qat(qat_modules, qat)
        qat_steps += qat
        with autocast:
            logits = model(input_ids=input_ids).logits                    # [B, L, V]
        shift_logits = logits[:, :-1].float().reshape(-1, logits.shape[-1])
        shift_labels = labels[:, 1:].reshape(-1)
        loss = F.cross_entropy(shift_logits, shift_labels, ignore_index=data.IGNORE)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        imbalance = balancer.update()
        step += 1
        tokens_seen += int(input_ids.numel())
        if step == 10:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            timing_start = time.time()
        if args.steps == 0 and step == 50:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            per_step = (time.time() - timing_start) / 40
            remaining = args.time_budget - (time.time() - start)
            total_steps = step + max(1, int(remaining / per_step))
            print(f"step time {per_step * 1000:.1f} ms -> total steps {total_steps}", flush=True)
            log["derived_steps"] = total_steps
        if step % 100 == 0 or step == total_steps:
            entry = {"step": step, "loss": round(loss.item(), 4), "qat": qat, "lr": lr, "grad_norm": round(float(grad_norm), 3),
                     "max_over_mean_load": [round(float(v), 2) for v in imbalance],
                     "elapsed_s": round(time.time() - start, 1), "tokens": tokens_seen}
            log["history"].append(entry)
            print(json.dumps(entry), flush=True)
    log["steps"] = step
    log["qat_steps"] = qat_steps
    set_qat(qat_modules, False)
    log["train_seconds"] = round(time.time() - start, 1)
    log["tokens_seen"] = tokens_seen
    log["final_bias"] = [r.e_score_correction_bias.tolist() for r in balancer.routers]
    model.eval()
    torch.save({k: v.detach().float().cpu() for k, v in model.state_dict().items()},
               os.path.join(args.out, "trained_state.pt"))
    with open(os.path.join(args.out, "train_log.json"), "w") as f:
        json.dump(log, f, indent=1)
    print(f"trained {step} steps in {log['train_seconds']} s, {tokens_seen:,} tokens", flush=True)


if __name__ == "__main__":
    main()
