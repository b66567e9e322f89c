"""Batched decoding of many prompts with transformers' DeepseekV3ForCausalLM, for evaluation.

transformers' generate() keeps every row of a batch until the longest is done and re-expands
the whole compressed MLA cache through kv_b_proj at every step, so a 1,000-problem batch of
long completions costs minutes.  This loop runs the same modules (the model's own forward; only
the attention's cache handling is replaced) with three changes that leave each row's math
as it was:

  * the attention expands each new token's latent through kv_b_proj once and keeps the expanded
    keys [R, H, L, 64] and values [R, H, L, 32] (the same products transformers recomputes);
  * finished rows are dropped from the batch (the cache rows are compacted);
  * rows are grouped by their token cap, so short and long completions do not share a batch;
    a batch's cache grows as positions are added, and batches are sized so that even their
    worst case (no row ending before its cap) stays within a memory budget.

Per row: greedy (argmax) or sampled at temperature 0.6 / top_p 0.95 (transformers' top-p rule:
the smallest set of tokens whose probability reaches top_p, at least one), stopping at the end
token or after `cap` new tokens.  evaluate.py compares this loop with generate() (--check-prompts).
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass

import torch


@dataclass
class Row:
    prompt_ids: list[int]
    cap: int           # most new tokens
    greedy: bool


class ExpandedCache:
    """Expanded keys/values of every layer for a batch: k [R, H, C, Dk], v [R, H, C, Dv].

    `rows` selects the batch rows the next forward covers (a prefill chunk, or the live rows)
    and `length` is how many positions they already hold.  The capacity C grows in chunks as
    positions are added (`reserve`), and `keep` compacts the live rows, so memory follows the
    rows still generating rather than the batch's worst case.
    """

    def __init__(self, layers: int, rows: int, heads: int, capacity: int, k_dim: int, v_dim: int, device):
        self.k = [torch.empty(rows, heads, capacity, k_dim, device=device) for _ in range(layers)]
        self.v = [torch.empty(rows, heads, capacity, v_dim, device=device) for _ in range(layers)]
        self.rows = slice(0, rows)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    def reserve(self, live: int, positions: int) -> None:
        """Room for `positions` positions in rows 0..live-1 (the other rows are dropped)."""
        if positions <= self.capacity and live == self.k[0].shape[0]:
            return
        capacity = max(positions, self.capacity)
        for buffers in (self.k, self.v):
            for i, buf in enumerate(buffers):
                grown = buf.new_empty(live, buf.shape[1], capacity, buf.shape[3])
                grown[:, :, : self.length] = buf[:live, :, : self.length]
                buffers[i] = grown

    def append(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """keys [b, H, q, Dk], values [b, H, q, Dv] -> all keys/values of those rows so far."""
        end = self.length + keys.shape[2]
        self.k[layer][self.rows, :, self.length:end] = keys
        self.v[layer][self.rows, :, self.length:end] = values
        return self.k[layer][self.rows, :, :end], self.v[layer][self.rows, :, :end]

    def keep(self, index: torch.Tensor) -> None:
        """Keeps batch rows `index` (ascending) as rows 0..len(index)-1."""
        n = index.numel()
        for buffers in (self.k, self.v):
            for buf in buffers:
                buf[:n, :, : self.length] = buf[index, :, : self.length]


def cached_attention_forward(self, hidden_states, position_embeddings, attention_mask, past_key_values=None,
                             **kwargs):
    """DeepseekV3Attention.forward with an ExpandedCache: identical to transformers' up to the
    cache, whose entries are the kv_b_proj expansion of each token, computed once."""
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import (
        apply_rotary_pos_emb, apply_rotary_pos_emb_interleave, eager_attention_forward)

    batch_size, seq_length = hidden_states.shape[:-1]
    query_shape = (batch_size, seq_length, -1, self.qk_head_dim)
    if self.q_lora_rank is None:
        q_states = self.q_proj(hidden_states)
    else:
        q_states = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(hidden_states)))
    q_states = q_states.view(query_shape).transpose(1, 2)                      # [b, H, q, 64]
    q_pass, q_rot = torch.split(q_states, [self.qk_nope_head_dim, self.qk_rope_head_dim], dim=-1)
    compressed_kv = self.kv_a_proj_with_mqa(hidden_states)
    kv_nope, k_rot = torch.split(compressed_kv, [self.kv_lora_rank, self.qk_rope_head_dim], dim=-1)
    kv_nope = self.kv_a_layernorm(kv_nope).view(batch_size, 1, seq_length, self.kv_lora_rank)
    k_rot = k_rot.view(batch_size, 1, seq_length, self.qk_rope_head_dim)
    cos, sin = position_embeddings
    if self.config.rope_interleave:
        q_rot, k_rot = apply_rotary_pos_emb_interleave(q_rot, k_rot, cos, sin)
    else:
        q_rot, k_rot = apply_rotary_pos_emb(q_rot, k_rot, cos, sin)
    query_states = torch.cat((q_pass, q_rot), dim=-1)
    key_new, value_new = self.expand_kv(kv_nope, k_rot)                       # [b, H, q, 64], [b, H, q, 32]
    key_states, value_states = past_key_values.append(self.layer_idx, key_new, value_new)
    attn_output, attn_weights = eager_attention_forward(self, query_states, key_states, value_states,
                                                        attention_mask, dropout=0.0, scaling=self.scaling)
    attn_output = attn_output.reshape(batch_size, seq_length, -1).contiguous()
    return self.o_proj(attn_output), attn_weights


def use_expanded_cache(model) -> None:
    for layer in model.model.layers:
        layer.self_attn.forward = types.MethodType(cached_attention_forward, layer.self_attn)


def restore_attention(model) -> None:
    for layer in model.model.layers:
        if "forward" in layer.self_attn.__dict__:
            del layer.self_attn.forward


def bytes_per_token(config) -> int:
    """Cache bytes of one position of one row, all layers (float32 keys and values)."""
    return 4 * config.num_hidden_layers * config.num_attention_heads * (
        config.qk_nope_head_dim + config.qk_rope_head_dim + config.v_head_dim)


GROWTH = 128  # positions added to a batch's cache at a time


def worst_case_bytes(caps: list[int], width: int, per_token: int) -> float:
    """Peak cache bytes of a batch if no row ends before its cap (caps ascending).

    While the longest remaining rows pass position width + c_i, the n - i rows whose caps are
    at least c_i are live, each holding up to width + c_i + GROWTH positions.  Growth and
    compaction replace one layer's key or value buffer at a time, so they briefly add at most
    two of the 2 * layers buffers (the factor 1.25 covers that for 8 or more layers).
    """
    import numpy as np

    c = np.asarray(caps, dtype=np.float64)
    live = len(c) - np.arange(len(c))
    return float(1.25 * (live * (width + c + GROWTH)).max() * per_token)


def plan_batches(rows: list[Row], per_token: int, budget_bytes: float, max_rows: int) -> list[list[int]]:
    """Row indices grouped into batches, by ascending cap then prompt length, each as large as
    the worst case (worst_case_bytes) within budget_bytes and max_rows allows."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i].cap, len(rows[i].prompt_ids)))
    caps = [rows[i].cap for i in order]
    widths = [len(rows[i].prompt_ids) for i in order]
    batches, start = [], 0
    while start < len(order):
        def fits(end: int) -> bool:
            return worst_case_bytes(caps[start:end], max(widths[start:end]), per_token) <= budget_bytes
        lo, hi = start + 1, min(len(order), start + max_rows)             # lo always fits (one row)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid - 1
        batches.append(order[start:lo])
        start = lo
    return batches


def _additive_mask(keep: torch.Tensor) -> torch.Tensor:
    """bool [..., q, kv] (True = attend) -> float32 additive mask (0 or float32 min)."""
    return torch.zeros(keep.shape, dtype=torch.float32, device=keep.device).masked_fill(
        ~keep, torch.finfo(torch.float32).min)


def _sample(logits: torch.Tensor, greedy: torch.Tensor, generator: torch.Generator,
            temperature: float = 0.6, top_p: float = 0.95) -> torch.Tensor:
    """logits [R, V] float32, greedy [R] bool -> next token ids [R]."""
    best = logits.argmax(dim=-1)
    scores = logits / temperature
    sorted_scores, sorted_idx = torch.sort(scores, descending=False, dim=-1)
    cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
    remove_sorted = cumulative <= (1 - top_p)
    remove_sorted[..., -1:] = False                                     # keep at least one token
    remove = remove_sorted.scatter(1, sorted_idx, remove_sorted)
    scores = scores.masked_fill(remove, float("-inf"))
    probs = scores.softmax(dim=-1)
    drawn = torch.multinomial(probs, 1, generator=generator).squeeze(1)
    return torch.where(greedy, best, drawn)


@torch.no_grad()
def generate_rows(model, rows: list[Row], device: str, seed: int, budget_bytes: float = 40e9,
                  max_rows: int = 4096, prefill_rows: int = 256, eos_id: int = 1, pad_id: int = 2,
                  deadline: float | None = None, log=print) -> list[list[int] | None]:
    """New token ids of every row (the end token excluded); None for rows a deadline skipped."""
    config = model.config
    use_expanded_cache(model)
    outputs: list[list[int] | None] = [None] * len(rows)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    batches = plan_batches(rows, bytes_per_token(config), budget_bytes, max_rows)
    try:
        for number, batch in enumerate(batches):
            if deadline is not None and time.time() > deadline:
                log(f"deadline: {len(batches) - number} of {len(batches)} batches skipped")
                break
            started = time.time()
            steps = _run_batch(model, [rows[i] for i in batch], device, generator, prefill_rows, eos_id, pad_id)
            for i, out in zip(batch, steps):
                outputs[i] = out
            log(f"batch {number + 1}/{len(batches)}: {len(batch)} rows, cap {max(rows[i].cap for i in batch)}, "
                f"{time.time() - started:.1f} s")
    finally:
        restore_attention(model)
    return outputs


def _run_batch(model, rows: list[Row], device: str, generator: torch.Generator, prefill_rows: int,
               eos_id: int, pad_id: int) -> list[list[int]]:
    config = model.config
    n = len(rows)
    width = max(len(r.prompt_ids) for r in rows)
    cap = max(r.cap for r in rows)
    cache = ExpandedCache(config.num_hidden_layers, n, config.num_attention_heads, width + GROWTH,
                          config.qk_nope_head_dim + config.qk_rope_head_dim, config.v_head_dim, device)
    ids = torch.full((n, width), pad_id, dtype=torch.long)                       # [n, w] left padded
    valid = torch.zeros((n, width), dtype=torch.bool)                            # [n, w]
    for i, r in enumerate(rows):
        ids[i, width - len(r.prompt_ids):] = torch.tensor(r.prompt_ids)
        valid[i, width - len(r.prompt_ids):] = True
    ids, valid = ids.to(device), valid.to(device)
    positions = (valid.long().cumsum(-1) - 1).masked_fill(~valid, 1)            # [n, w], as generate() does
    causal = torch.ones(width, width, dtype=torch.bool, device=device).tril()     # [w, w]
    last_logits = torch.empty(n, config.vocab_size, device=device)
    for r0 in range(0, n, prefill_rows):
        r1 = min(n, r0 + prefill_rows)
        cache.rows, cache.length = slice(r0, r1), 0
        mask = _additive_mask(causal[None, None] & valid[r0:r1, None, None, :])  # [b, 1, w, w]
        out = model(input_ids=ids[r0:r1], attention_mask=mask, position_ids=positions[r0:r1],
                    past_key_values=cache, use_cache=True, logits_to_keep=1)
        last_logits[r0:r1] = out.logits[:, -1].float()
    cache.length = width

    live = torch.arange(n, device=device)                                        # original row of each batch row
    active = torch.ones(n, dtype=torch.bool, device=device)                      # batch rows still generating
    greedy = torch.tensor([r.greedy for r in rows], device=device)
    caps = torch.tensor([r.cap for r in rows], device=device)
    next_pos = valid.sum(-1)                                                     # [n] position of the first new token
    key_valid = torch.cat([valid, torch.ones(n, cap, dtype=torch.bool, device=device)], dim=1)  # [n, w + cap]
    tokens = torch.empty(n, cap, dtype=torch.long, device=device)               # [n, cap] by original row
    lengths = torch.zeros(n, dtype=torch.long, device=device)                   # new tokens per original row
    logits = last_logits
    for step in range(cap):
        token = _sample(logits, greedy[live], generator)                        # [R]
        tokens[live, step] = token
        is_end = token == eos_id
        finished = active & (is_end | (step + 1 >= caps[live]))
        lengths[live[finished]] = step + 1 - is_end[finished].long()
        active &= ~finished
        still = int(active.sum())
        if still == 0:
            break
        # Finished rows stay (their tokens are past their length) until an eighth of the batch
        # has finished, then the cache is compacted: one copy per many steps, not one per step.
        if live.numel() - still >= max(1, live.numel() // 8):
            keep = active.nonzero().squeeze(1)                                   # ascending
            cache.keep(keep)
            live, token, active = live[keep], token[keep], active[keep]
        if cache.length + 1 > cache.capacity:
            cache.reserve(live.numel(), min(width + cap, cache.length + GROWTH))
        cache.rows = slice(0, live.numel())
        mask = _additive_mask(key_valid[live, None, None, : width + step + 1])  # [R, 1, 1, w + step + 1]
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=(next_pos[live] + step)[:, None],
                    past_key_values=cache, use_cache=True, logits_to_keep=1)
        cache.length += 1
        logits = out.logits[:, -1].float()
    tokens, lengths = tokens.cpu(), lengths.cpu()
    return [tokens[i, : int(lengths[i])].tolist() for i in range(n)]
