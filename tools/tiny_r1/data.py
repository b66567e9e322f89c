"""Token batches for tiny-r1 training, generated on the fly and reproducible for a seed.

Each DataLoader worker owns a random.Random seeded from (seed, worker id), draws a pool of
problems, sorts the pool by length and cuts it into batches of at most `tokens_per_batch`
padded tokens (so short and long problems are not padded to each other).  PyTorch hands out
worker outputs round-robin, so the batch sequence depends only on the seed and the worker
count.
"""

from __future__ import annotations

import random

import torch
from tokenizers import Tokenizer

import chat_format
import problems

IGNORE = -100  # label value the loss skips (prompt and padding positions)


def encode_example(tok: Tokenizer, problem: problems.Problem, max_len: int) -> tuple[list[int], list[int]] | None:
    """(input ids, labels) for one problem; labels are IGNORE on the context part."""
    context, target = chat_format.training_pieces(problem.prompt, problem.reasoning, problem.response)
    ctx_ids = tok.encode(context, add_special_tokens=False).ids
    tgt_ids = tok.encode(target, add_special_tokens=False).ids
    ids = ctx_ids + tgt_ids
    if len(ids) > max_len:
        return None
    return ids, [IGNORE] * len(ctx_ids) + tgt_ids


class ProblemBatches(torch.utils.data.IterableDataset):
    def __init__(self, tokenizer_path: str, seed: int, tokens_per_batch: int, max_len: int,
                 pool_batches: int = 16, pad_id: int = 2, mixture: str = "phase1"):
        super().__init__()
        self.tokenizer_path = tokenizer_path
        self.seed = seed
        self.tokens_per_batch = tokens_per_batch
        self.max_len = max_len
        self.pool_batches = pool_batches
        self.pad_id = pad_id
        self.weights = problems.MIXTURES[mixture]

    def _batches_from_pool(self, rng: random.Random, tok: Tokenizer):
        # Roughly pool_batches batches' worth of examples, sorted by length.
        pool = []
        budget = self.tokens_per_batch * self.pool_batches
        used = 0
        while used < budget:
            encoded = encode_example(tok, problems.sample_training_problem(rng, self.weights), self.max_len)
            if encoded is None:
                continue
            pool.append(encoded)
            used += len(encoded[0])
        pool.sort(key=lambda pair: len(pair[0]))
        batches, current = [], []
        for ids, labels in pool:
            longest = max(len(ids), max((len(c[0]) for c in current), default=0))
            if current and longest * (len(current) + 1) > self.tokens_per_batch:
                batches.append(current)
                current = []
            current.append((ids, labels))
        if current:
            batches.append(current)
        rng.shuffle(batches)
        for batch in batches:
            yield self._collate(batch)

    def _collate(self, batch):
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)  # [B, L]
        labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)          # [B, L]
        for row, (ids, lab) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, : len(lab)] = torch.tensor(lab)
        return input_ids, labels

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        rng = random.Random(self.seed * 1_000_003 + worker)
        tok = Tokenizer.from_file(self.tokenizer_path)
        while True:
            yield from self._batches_from_pool(rng, tok)
