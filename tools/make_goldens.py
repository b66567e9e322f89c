#!/usr/bin/env python3
"""Writes the golden fixtures of tests/golden: tiny random checkpoints of every supported family in
BF16, DeepSeek FP8-block and ModelOpt NVFP4, with Hugging Face transformers' float32 outputs.

For each family and encoding the fixture folder holds
  config.json            hub-style config (rope_theta / rope_scaling as the released checkpoints write them)
  hf_quant_config.json   ModelOpt manifest (NVFP4 only, except where the inline config.json form is used)
  model.safetensors      the weights in the exact on-disk encoding
  expected.safetensors   transformers' results, float32 eager attention, weights loaded as float32:
      prompt{i}.ids            I32 [T]              a random prompt
      prompt{i}.logits         F32 [T, V]           logits at every position
      prompt{i}.experts        I32 [Lmoe, T, k]     routed experts per MoE layer per token, ascending ids
      prompt{i}.expert_weights F32 [Lmoe, T, k]     their routing weights, same order
      prompt{i}.router_logits  F32 [Lmoe, T, E]     router logits (to judge near-ties)
      prompt0.layer_out        F32 [L, T, hidden]   residual stream after each decoder layer (debugging)
      greedy.ids               I32 [T0 + 32]        prompt 0 followed by 32 greedy tokens
      greedy.logits / .experts / .expert_weights / .router_logits over the whole greedy sequence
The quantized fixtures' expected values are computed on the dequantized weights (tools/ref_codec.py),
so an engine that computes exactly from the stored encoding must match them to float32 rounding.

Prompts are drawn until every greedy step has a top-1/top-2 logit gap of at least MIN_GREEDY_GAP and
every routing decision a selection-score gap of at least MIN_ROUTER_GAP: a golden whose continuation or
expert choice is decided by float32 rounding would test the summation order, not the model.

Usage:  python tools/make_goldens.py --out tests/golden [--only deepseek_v3,llama]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_codec  # noqa: E402

GREEDY_STEPS = 32
PROMPT_LENGTHS = (5, 9, 16)
MIN_GREEDY_GAP = 2e-3
MIN_ROUTER_GAP = 1e-4
VOCAB = 256

R1_YARN = {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32,
           "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0}
V2_LITE_YARN = {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096, "beta_fast": 32,
                "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707}


def deepseek_common(**over):
    cfg = {
        "vocab_size": VOCAB, "hidden_size": 160, "intermediate_size": 192, "moe_intermediate_size": 32,
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
        "kv_lora_rank": 48, "qk_rope_head_dim": 16, "v_head_dim": 32, "qk_nope_head_dim": 32,
        "moe_layer_freq": 1, "first_k_dense_replace": 1, "hidden_act": "silu",
        "max_position_embeddings": 163840, "initializer_range": 0.02, "rms_norm_eps": 1e-6, "use_cache": True,
        "bos_token_id": 0, "eos_token_id": 1, "tie_word_embeddings": False, "rope_theta": 10000,
        "attention_bias": False, "attention_dropout": 0.0, "torch_dtype": "bfloat16",
    }
    cfg.update(over)
    return cfg


# Every knob the engine must honour is turned by at least one family here.
FAMILIES = {
    # DeepSeek-V3/R1: q_lora, YaRN with mscale_all_dim (softmax scale), interleaved rope, sigmoid routing
    # with a non-zero correction bias, group-limited top-k (3 experts per group so top-2 group sums
    # differ from maxima), normalized and scaled weights, a shared expert, a first dense layer.
    "deepseek_v3": deepseek_common(
        architectures=["DeepseekV3ForCausalLM"], model_type="deepseek_v3", q_lora_rank=64,
        n_routed_experts=12, n_shared_experts=1, num_experts_per_tok=3, n_group=4, topk_group=2,
        routed_scaling_factor=2.5, norm_topk_prob=True, scoring_func="sigmoid", topk_method="noaux_tc",
        rope_scaling=R1_YARN, num_nextn_predict_layers=0),
    # DeepSeek-V2-Lite shape: no q_lora, softmax + greedy routing, two shared experts, YaRN mscale 0.707.
    "deepseek_v2_lite": deepseek_common(
        architectures=["DeepseekV2ForCausalLM"], model_type="deepseek_v2", q_lora_rank=None,
        n_routed_experts=8, n_shared_experts=2, num_experts_per_tok=2, n_group=1, topk_group=1,
        routed_scaling_factor=1.0, norm_topk_prob=False, scoring_func="softmax", topk_method="greedy",
        rope_scaling=V2_LITE_YARN),
    # DeepSeek-V2 shape: no q_lora, softmax + group_limited_greedy, routed scaling 16, plain RoPE.
    "deepseek_v2": deepseek_common(
        architectures=["DeepseekV2ForCausalLM"], model_type="deepseek_v2", q_lora_rank=None,
        n_routed_experts=12, n_shared_experts=1, num_experts_per_tok=3, n_group=4, topk_group=2,
        routed_scaling_factor=16.0, norm_topk_prob=False, scoring_func="softmax",
        topk_method="group_limited_greedy", max_position_embeddings=4096, rope_scaling=None),
    # R1-Distill-Llama shape: llama3 rope scaling (theta 5e5 so the three bands are all hit), GQA 5:1.
    "llama": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB,
        "hidden_size": 160, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 5,
        "num_key_value_heads": 1, "head_dim": 32, "hidden_act": "silu", "max_position_embeddings": 131072,
        "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False, "bos_token_id": 0,
        "eos_token_id": 1, "torch_dtype": "bfloat16", "initializer_range": 0.02, "use_cache": True},
    # R1-Distill-Qwen shape: qkv bias, untied embeddings.
    "qwen2": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": VOCAB,
        "hidden_size": 160, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 5,
        "num_key_value_heads": 1, "hidden_act": "silu", "max_position_embeddings": 131072,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "use_sliding_window": False, "sliding_window": 4096,
        "max_window_layers": 2, "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1,
        "torch_dtype": "bfloat16", "initializer_range": 0.02, "use_cache": True, "attention_dropout": 0.0},
    # Base Qwen2.5 shape: qkv bias, tied embeddings (no lm_head tensor in the checkpoint).
    "qwen2_tied": None,  # filled below from qwen2
    # R1-0528-Qwen3-8B shape: q_norm/k_norm, explicit head_dim != hidden/heads, YaRN with the
    # `attn_factor` key that transformers ignores (it reads `attention_factor`).
    "qwen3": {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": VOCAB,
        "hidden_size": 160, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 48, "hidden_act": "silu", "max_position_embeddings": 131072,
        "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768,
                         "attn_factor": 0.8782488562869419},
        "attention_bias": False, "use_sliding_window": False, "sliding_window": None, "max_window_layers": 2,
        "tie_word_embeddings": False, "bos_token_id": 0, "eos_token_id": 1, "torch_dtype": "bfloat16",
        "initializer_range": 0.02, "use_cache": True, "attention_dropout": 0.0},
}
FAMILIES["qwen2_tied"] = dict(FAMILIES["qwen2"], tie_word_embeddings=True)

ENCODINGS = ("bf16", "fp8", "nvfp4")


def is_deepseek(cfg):
    return cfg["model_type"] in ("deepseek_v2", "deepseek_v3")


# ------------------------------------------------------------------------------------------------
# Canonical (hub) tensor list with random values.


def linear_names(cfg):
    """(module name, out, in, has_bias) for every linear layer a checkpoint stores, in file order."""
    h = cfg["hidden_size"]
    out = []
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        if is_deepseek(cfg):
            heads = cfg["num_attention_heads"]
            dqk = cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"]
            if cfg["q_lora_rank"]:
                out.append((f"{p}.self_attn.q_a_proj", cfg["q_lora_rank"], h, False))
                out.append((f"{p}.self_attn.q_b_proj", heads * dqk, cfg["q_lora_rank"], False))
            else:
                out.append((f"{p}.self_attn.q_proj", heads * dqk, h, False))
            out.append((f"{p}.self_attn.kv_a_proj_with_mqa", cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"], h, False))
            out.append((f"{p}.self_attn.kv_b_proj", heads * (cfg["qk_nope_head_dim"] + cfg["v_head_dim"]),
                        cfg["kv_lora_rank"], False))
            out.append((f"{p}.self_attn.o_proj", h, heads * cfg["v_head_dim"], False))
            if layer >= cfg["first_k_dense_replace"]:
                inter = cfg["moe_intermediate_size"]
                for e in range(cfg["n_routed_experts"]):
                    out += mlp_names(f"{p}.mlp.experts.{e}", h, inter)
                out += mlp_names(f"{p}.mlp.shared_experts", h, inter * cfg["n_shared_experts"])
            else:
                out += mlp_names(f"{p}.mlp", h, cfg["intermediate_size"])
        else:
            heads, kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
            hd = cfg.get("head_dim") or h // heads
            bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
            out.append((f"{p}.self_attn.q_proj", heads * hd, h, bias))
            out.append((f"{p}.self_attn.k_proj", kv * hd, h, bias))
            out.append((f"{p}.self_attn.v_proj", kv * hd, h, bias))
            out.append((f"{p}.self_attn.o_proj", h, heads * hd, cfg.get("attention_bias", False)))
            out += mlp_names(f"{p}.mlp", h, cfg["intermediate_size"])
    return out


def mlp_names(prefix, h, inter):
    return [(f"{prefix}.gate_proj", inter, h, False), (f"{prefix}.up_proj", inter, h, False),
            (f"{prefix}.down_proj", h, inter, False)]


def random_weights(cfg, seed):
    """float32 arrays already rounded to BF16 values (so BF16 storage is exact), plus the f32 bias."""
    rng = np.random.default_rng(seed)
    h, v = cfg["hidden_size"], cfg["vocab_size"]
    w = {}

    def bf16(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).bfloat16().float().numpy()

    def norm_weight(n):
        # Far from 1 so a missing or misplaced norm weight shows up in the logits.
        return bf16(rng.uniform(0.5, 1.5, n))

    w["model.embed_tokens.weight"] = bf16(rng.standard_normal((v, h)))
    for name, n_out, n_in, bias in linear_names(cfg):
        # 1/sqrt(fan_in) keeps activations O(1) through the depth, so logits are spread out and
        # top-k decisions are not ties.
        w[f"{name}.weight"] = bf16(rng.standard_normal((n_out, n_in)) / math.sqrt(n_in))
        if bias:
            w[f"{name}.bias"] = bf16(0.5 * rng.standard_normal(n_out))
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        w[f"{p}.input_layernorm.weight"] = norm_weight(h)
        w[f"{p}.post_attention_layernorm.weight"] = norm_weight(h)
        if is_deepseek(cfg):
            if cfg["q_lora_rank"]:
                w[f"{p}.self_attn.q_a_layernorm.weight"] = norm_weight(cfg["q_lora_rank"])
            w[f"{p}.self_attn.kv_a_layernorm.weight"] = norm_weight(cfg["kv_lora_rank"])
            if layer >= cfg["first_k_dense_replace"]:
                e = cfg["n_routed_experts"]
                w[f"{p}.mlp.gate.weight"] = bf16(2.0 * rng.standard_normal((e, h)) / math.sqrt(h))
                if cfg["model_type"] == "deepseek_v3":
                    # Stored F32 like the released checkpoints; large enough to change selections.
                    w[f"{p}.mlp.gate.e_score_correction_bias"] = (0.2 * rng.standard_normal(e)).astype(np.float32)
        if cfg["model_type"] == "qwen3":
            hd = cfg["head_dim"]
            w[f"{p}.self_attn.q_norm.weight"] = norm_weight(hd)
            w[f"{p}.self_attn.k_norm.weight"] = norm_weight(hd)
    w["model.norm.weight"] = norm_weight(h)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = bf16(rng.standard_normal((v, h)) / math.sqrt(h))
    return w


# ------------------------------------------------------------------------------------------------
# Encodings.


def nvfp4_excluded(cfg, module):
    """The DeepSeek-R1-0528-FP4 recipe: attention and lm_head BF16, dense and expert MLPs NVFP4."""
    return ".self_attn." in module or module == "lm_head"


def nvfp4_exclude_patterns(cfg):
    return ["lm_head"] + [f"model.layers.{i}.self_attn*" for i in range(cfg["num_hidden_layers"])]


def encode(cfg, weights, encoding, input_amax):
    """Returns (tensors to store as torch tensors, float32 dequantized weights for the reference)."""
    stored, deq = {}, {}
    linears = {name: (o, i) for name, o, i, _ in linear_names(cfg)}
    # gate/up pairs share weight_scale_2 (ModelOpt sets both amaxes to their max).
    pair_gs = {}
    if encoding == "nvfp4":
        for name in linears:
            if name.endswith(".gate_proj") and not nvfp4_excluded(cfg, name):
                up = name[: -len("gate_proj")] + "up_proj"
                amax = max(np.abs(weights[f"{name}.weight"]).max(), np.abs(weights[f"{up}.weight"]).max())
                pair_gs[name] = pair_gs[up] = ref_codec.nvfp4_global_scale(float(amax))
    for key, value in weights.items():
        module = key.rsplit(".", 1)[0]
        is_linear_weight = key.endswith(".weight") and module in linears
        if encoding == "fp8" and is_linear_weight:
            q, s = ref_codec.fp8_block_quantize(value)
            stored[key] = torch.from_numpy(q).view(torch.float8_e4m3fn)
            stored[f"{module}.weight_scale_inv"] = torch.from_numpy(s)
            deq[key] = ref_codec.fp8_block_dequantize(q, s)
        elif encoding == "nvfp4" and is_linear_weight and not nvfp4_excluded(cfg, module):
            packed, sc, gs = ref_codec.nvfp4_quantize(value, pair_gs.get(module))
            stored[key] = torch.from_numpy(packed)
            stored[f"{module}.weight_scale"] = torch.from_numpy(sc).view(torch.float8_e4m3fn)
            stored[f"{module}.weight_scale_2"] = torch.tensor(np.float32(gs))
            stored[f"{module}.input_scale"] = torch.tensor(ref_codec.nvfp4_global_scale(input_amax[module]))
            deq[key] = ref_codec.nvfp4_dequantize(packed, sc, gs)
        else:
            t = torch.from_numpy(value)
            stored[key] = t if key.endswith("e_score_correction_bias") else t.bfloat16()
            deq[key] = value
    return stored, deq


def quant_files(cfg, encoding, config):
    """Adds the quantization description in the on-disk form; returns extra files {name: json}."""
    if encoding == "fp8":
        config["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                          "weight_block_size": [128, 128]}
        return {}
    if encoding != "nvfp4":
        return {}
    exclude = nvfp4_exclude_patterns(cfg)
    if cfg["model_type"] == "qwen3":
        # The inline form ModelOpt >= 0.31's unified exporter writes into config.json.
        scheme = {"num_bits": 4, "type": "float", "group_size": 16, "dynamic": False}
        config["quantization_config"] = {
            "quant_method": "modelopt", "quant_algo": "NVFP4",
            "config_groups": {"group_0": {"weights": scheme, "input_activations": dict(scheme), "targets": ["Linear"]}},
            "ignore": exclude, "producer": {"name": "modelopt", "version": "0.31.0"}}
        return {}
    return {"hf_quant_config.json": {
        "producer": {"name": "modelopt", "version": "0.31.0"},
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": None, "group_size": 16,
                         "exclude_modules": exclude}}}


# ------------------------------------------------------------------------------------------------
# The transformers reference.


def load_reference(cfg, weights_f32):
    """Loads the float32 weights through transformers' own loader (per-expert hub names included)."""
    tmp = tempfile.mkdtemp()
    try:
        plain = {k: v for k, v in cfg.items() if k != "quantization_config"}
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(plain, f)
        save_torch({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights_f32.items()},
                   os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        model, info = transformers.AutoModelForCausalLM.from_pretrained(
            tmp, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    finally:
        shutil.rmtree(tmp)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise SystemExit(f"transformers did not load every tensor: {bad}")
    model.eval()
    return model


class RouterRecorder:
    """Records (router logits, top-k weights, top-k indices) of every MoE layer's router."""

    def __init__(self, model):
        self.calls = {}
        self.handles = []
        for i, layer in enumerate(model.model.layers):
            gate = getattr(layer.mlp, "gate", None)
            if gate is not None and not isinstance(gate, torch.nn.Linear):
                self.handles.append(gate.register_forward_hook(self._hook(i)))

    def _hook(self, i):
        def fn(_module, _inp, out):
            self.calls[i] = tuple(t.detach().clone() for t in out)
        return fn

    def arrays(self):
        if not self.calls:
            return None
        layers = sorted(self.calls)
        idx, wts, logits = [], [], []
        for i in layers:
            rl, tw, ti = self.calls[i]
            order = torch.argsort(ti, dim=-1)
            idx.append(torch.gather(ti, 1, order).numpy().astype(np.int32))
            wts.append(torch.gather(tw, 1, order).numpy().astype(np.float32))
            logits.append(rl.numpy().astype(np.float32))
        return np.stack(idx), np.stack(wts), np.stack(logits)


class LayerRecorder:
    def __init__(self, model):
        self.outs = {}
        self.handles = [layer.register_forward_hook(self._hook(i)) for i, layer in enumerate(model.model.layers)]

    def _hook(self, i):
        def fn(_module, _inp, out):
            self.outs[i] = (out[0] if isinstance(out, tuple) else out).detach().clone()
        return fn


def forward(model, ids):
    rec = RouterRecorder(model)
    with torch.no_grad():
        logits = model(torch.tensor([ids]), use_cache=False).logits[0].numpy().astype(np.float32)
    for h in rec.handles:
        h.remove()
    return logits, rec.arrays()


def router_gap(cfg, router_logits, biases):
    """Smallest margin of any selection decision (groups, then experts) over all layers and tokens."""
    if router_logits is None:
        return math.inf
    gaps = []
    for layer_logits, bias in zip(router_logits, biases):
        x = torch.from_numpy(layer_logits)
        s = torch.sigmoid(x) if cfg["scoring_func"] == "sigmoid" else torch.softmax(x, dim=-1)
        if bias is not None:
            s = s + torch.from_numpy(bias)  # the correction bias shifts the selection scores only
        gaps.append(selection_gap(cfg, s, cfg["num_experts_per_tok"]))
    return min(gaps)


def selection_gap(cfg, scores, k):
    e = cfg["n_routed_experts"]
    g = cfg["n_group"]
    gaps = []
    if g > 1 and cfg["topk_method"] in ("noaux_tc", "group_limited_greedy"):
        grouped = scores.view(-1, g, e // g)
        gs = grouped.topk(2, dim=-1)[0].sum(-1) if cfg["topk_method"] == "noaux_tc" else grouped.max(-1).values
        srt = gs.sort(dim=-1, descending=True).values
        tg = cfg["topk_group"]
        gaps.append((srt[:, tg - 1] - srt[:, tg]).min().item())
        keep = gs.topk(tg, dim=-1)[1]
        mask = torch.zeros_like(gs).scatter_(1, keep, 1).bool()
        scores = scores.masked_fill(~mask.repeat_interleave(e // g, dim=1), -math.inf)
    srt = scores.sort(dim=-1, descending=True).values
    gaps.append((srt[:, k - 1] - srt[:, k]).min().item())
    return min(gaps)


def greedy_gap(logits):
    srt = np.sort(logits, axis=-1)
    return float((srt[:, -1] - srt[:, -2]).min())


def reference_outputs(cfg, model, weights, rng):
    """Runs the prompts and the greedy continuation; redraws prompts until no decision is a near-tie."""
    biases = [weights.get(f"model.layers.{i}.mlp.gate.e_score_correction_bias")
              for i in range(cfg["num_hidden_layers"]) if f"model.layers.{i}.mlp.gate.weight" in weights]
    out = {}
    for attempt in range(200):
        out.clear()
        ok = True
        for pi, n in enumerate(PROMPT_LENGTHS):
            ids = rng.integers(2, cfg["vocab_size"], n).tolist()
            logits, routing = forward(model, ids)
            if routing is not None and router_gap(cfg, routing[2], biases) < MIN_ROUTER_GAP:
                ok = False
                break
            out[f"prompt{pi}.ids"] = np.array(ids, dtype=np.int32)
            out[f"prompt{pi}.logits"] = logits
            if routing is not None:
                out[f"prompt{pi}.experts"], out[f"prompt{pi}.expert_weights"], out[f"prompt{pi}.router_logits"] = routing
        if not ok:
            continue
        seq = out["prompt0.ids"].tolist()
        for _ in range(GREEDY_STEPS):
            logits, _ = forward(model, seq)
            seq.append(int(np.argmax(logits[-1])))
        logits, routing = forward(model, seq)
        if greedy_gap(logits[len(out["prompt0.ids"]) - 1:-1]) < MIN_GREEDY_GAP:
            continue
        if routing is not None and router_gap(cfg, routing[2], biases) < MIN_ROUTER_GAP:
            continue
        if not np.array_equal(np.argmax(logits[len(out["prompt0.ids"]) - 1:-1], axis=-1),
                              np.array(seq[len(out["prompt0.ids"]):])):
            raise SystemExit("greedy tokens disagree with the full-sequence logits")
        out["greedy.ids"] = np.array(seq, dtype=np.int32)
        out["greedy.logits"] = logits
        if routing is not None:
            out["greedy.experts"], out["greedy.expert_weights"], out["greedy.router_logits"] = routing
        rec = LayerRecorder(model)
        with torch.no_grad():
            model(torch.tensor([out["prompt0.ids"].tolist()]), use_cache=False)
        for h in rec.handles:
            h.remove()
        out["prompt0.layer_out"] = np.stack([rec.outs[i][0].numpy() for i in sorted(rec.outs)]).astype(np.float32)
        return out, attempt
    raise SystemExit("no prompt set without near-ties found")


def calibration_amax(cfg, model, weights):
    """Per-linear input amax over a calibration batch, for the NVFP4 input_scale (ModelOpt's `max`
    calibration). MLP inputs are the post-attention-norm outputs; down_proj inputs are recomputed."""
    rng = np.random.default_rng(1234)
    ids = rng.integers(2, cfg["vocab_size"], 32).tolist()
    normed = {}
    hooks = [layer.post_attention_layernorm.register_forward_hook(
        (lambda i: lambda m, a, o: normed.__setitem__(i, o[0].detach().numpy()))(i))
        for i, layer in enumerate(model.model.layers)]
    with torch.no_grad():
        model(torch.tensor([ids]), use_cache=False)
    for h in hooks:
        h.remove()
    amax = {}
    for name, _, _, _ in linear_names(cfg):
        if ".mlp." not in name and not name.endswith(".mlp"):
            amax[name] = 1.0  # attention stays BF16 in this recipe; no scale is stored
            continue
        layer = int(name.split(".")[2])
        x = normed[layer]
        if name.endswith("down_proj"):
            base = name[: -len("down_proj")]
            g = x @ weights[f"{base}gate_proj.weight"].T
            u = x @ weights[f"{base}up_proj.weight"].T
            x = g / (1 + np.exp(-g)) * u
        amax[name] = float(np.abs(x).max())
    return amax


# ------------------------------------------------------------------------------------------------


def write_fixture(out_dir, family, cfg, encoding, weights, input_amax):
    config = json.loads(json.dumps(cfg))
    config["transformers_version"] = transformers.__version__
    extra = quant_files(cfg, encoding, config)
    stored, deq = encode(cfg, weights, encoding, input_amax)
    model = load_reference(config, deq)
    prompt_seed = 7 + ENCODINGS.index(encoding)
    expected, attempts = reference_outputs(cfg, model, deq, np.random.default_rng(prompt_seed))
    d = os.path.join(out_dir, f"{family}_{encoding}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    for name, content in extra.items():
        with open(os.path.join(d, name), "w") as f:
            json.dump(content, f, indent=2)
            f.write("\n")
    save_torch(stored, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    meta = {"family": family, "encoding": encoding, "torch": torch.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__,
            "greedy_steps": str(GREEDY_STEPS), "prompt_redraws": str(attempts),
            "min_greedy_gap": str(MIN_GREEDY_GAP), "min_router_gap": str(MIN_ROUTER_GAP)}
    save_numpy({k: np.ascontiguousarray(v) for k, v in expected.items()},
               os.path.join(d, "expected.safetensors"), metadata=meta)
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"{family}_{encoding}: {size / 1e6:.2f} MB, redraws {attempts}", flush=True)
    if size > 2_000_000:
        raise SystemExit(f"{d} is {size} bytes, over the 2 MB budget")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="comma-separated family names")
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    only = [f for f in args.only.split(",") if f]
    for fi, (family, cfg) in enumerate(FAMILIES.items()):
        if only and family not in only:
            continue
        cfg = {k: v for k, v in cfg.items() if v is not None or k in ("q_lora_rank", "rope_scaling")}
        weights = random_weights(cfg, seed=100 + fi)
        bf16_model = load_reference(cfg, weights)
        input_amax = calibration_amax(cfg, bf16_model, weights)
        for encoding in ENCODINGS:
            write_fixture(args.out, family, cfg, encoding, weights, input_amax)


if __name__ == "__main__":
    main()
