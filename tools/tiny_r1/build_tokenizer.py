"""Train tiny-r1's byte-level BPE tokenizer on the synthetic corpus.

The pipeline mirrors DeepSeek-V3's tokenizer.json: no normalizer, three regex Split
pre-tokenizers (numbers, CJK runs, then words/punctuation/whitespace), ByteLevel without its
own regex, a ByteLevel decoder, and a post-processor that puts BOS in front.  One deliberate
difference: numbers split into single digits (DeepSeek groups up to three), because tiny-r1
reasons digit by digit and a token per digit keeps every column step the same shape.

    python3 tools/tiny_r1/build_tokenizer.py --out models/tiny-r1 --seed 7 --examples 60000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chat_format  # noqa: E402
import problems  # noqa: E402

VOCAB_SIZE = 2048  # all ids, special tokens included; config.json's vocab_size equals it
MODEL_MAX_LENGTH = 2048

# DeepSeek-V3's word/punctuation/whitespace pattern (its third Split step).
_WORDS_PATTERN = (
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
    " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
)
_CJK_PATTERN = "[一-龥぀-ゟ゠-ヿ]+"
_DIGIT_PATTERN = "\\p{N}"


def corpus(seed: int, examples: int):
    """The texts of training conversations (prompts, reasoning, answers)."""
    rng = random.Random(seed)
    for _ in range(examples):
        p = problems.sample_training_problem(rng)
        # Marker tokens are kept out of the text: they are added tokens, never merged.
        yield p.prompt
        yield p.reasoning
        yield p.response


def build(seed: int, examples: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(byte_fallback=False))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_DIGIT_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.Split(Regex(_CJK_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.Split(Regex(_WORDS_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=list(chat_format.SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(seed, examples), trainer=trainer)
    bos = chat_format.BOS
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, 0)])
    return tok


def _fix_added_token_flags(path: str) -> None:
    """Mark <think>/</think> non-special in tokenizer.json (the trainer adds them as special)."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    for entry in data["added_tokens"]:
        if entry["content"] in chat_format.NON_SPECIAL_ADDED:
            entry["special"] = False
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)


def tokenizer_config() -> dict:
    added = {}
    for i, token in enumerate(chat_format.SPECIAL_TOKENS):
        added[str(i)] = {"content": token, "lstrip": False, "normalized": False, "rstrip": False,
                         "single_word": False, "special": token not in chat_format.NON_SPECIAL_ADDED}
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": added,
        "bos_token": chat_format.BOS,
        "eos_token": chat_format.EOS,
        "pad_token": chat_format.PAD,
        "clean_up_tokenization_spaces": False,
        "model_max_length": MODEL_MAX_LENGTH,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": chat_format.CHAT_TEMPLATE,
    }


def write(out_dir: str, seed: int, examples: int) -> Tokenizer:
    os.makedirs(out_dir, exist_ok=True)
    tok = build(seed, examples)
    for i, token in enumerate(chat_format.SPECIAL_TOKENS):
        if tok.token_to_id(token) != i:
            raise RuntimeError(f"special token {token} got id {tok.token_to_id(token)}, expected {i}")
    if tok.get_vocab_size() > VOCAB_SIZE:
        raise RuntimeError(f"vocabulary has {tok.get_vocab_size()} entries, more than {VOCAB_SIZE}")
    path = os.path.join(out_dir, "tokenizer.json")
    tok.save(path)
    _fix_added_token_flags(path)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(), f, ensure_ascii=False, indent=2)
    return Tokenizer.from_file(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--examples", type=int, default=60000)
    args = parser.parse_args()
    tok = write(args.out, args.seed, args.examples)
    print(f"vocabulary: {tok.get_vocab_size()} tokens")


if __name__ == "__main__":
    main()
