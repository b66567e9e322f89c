"""Each tokenizer.json component, including those no real tokenizer in the test set uses (Metaspace, byte
fallback, unknown tokens, subword prefixes and suffixes, every Split behavior, the other normalizers, added
tokens with lstrip / rstrip / single_word / normalized), checked against HF `tokenizers` on small BPE models
trained here with HF's own trainer."""
import json

import pytest
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from test_tokenizer_common import corpus, run_tool

TEXTS = [s for s in corpus() if len(s) < 3000][::3] + [max(corpus(), key=len)]
TRAIN = TEXTS[:800]

ADDED = [
    AddedToken("[MASK]", lstrip=True, rstrip=True, special=True, normalized=False),
    AddedToken("hello", single_word=True, normalized=True),
    AddedToken("ΣIGMA", normalized=True),
    AddedToken("<sep>", normalized=False, special=False),
    AddedToken(" world", lstrip=False, rstrip=True, normalized=False),
]
SPECIAL_TEXTS = [
    "say hello to [MASK] ,  now", "hello", "xhello hello_ hello! ", "  [MASK]  [MASK]", "ΣIGMA σigma sigma",
    "a<sep>b <sep> c", "hello world  world", "[MASK]", "hello, ΣIGMA [MASK]<sep>", "ahello", "héllo hello",
]


def byte_level_vocab():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(TRAIN, trainers.BpeTrainer(vocab_size=1500, show_progress=False,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]


def metaspace_vocab(**bpe_options):
    tok = Tokenizer(models.BPE(unk_token="<unk>", **bpe_options))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.train_from_iterator(TRAIN[:300], trainers.BpeTrainer(vocab_size=800, show_progress=False, special_tokens=["<unk>"],
                                                             limit_alphabet=300, **bpe_options))
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]


BYTE_VOCAB = None


def byte_bpe(**kwargs):
    global BYTE_VOCAB
    if BYTE_VOCAB is None:
        BYTE_VOCAB = byte_level_vocab()
    vocab, merges = BYTE_VOCAB
    return models.BPE(dict(vocab), list(merges), **kwargs)


def llama2_style():
    vocab, merges = metaspace_vocab()
    vocab = dict(vocab)
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    for extra in ("<s>", "</s>"):
        vocab.setdefault(extra, len(vocab))
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    tok.add_special_tokens(["<s>", "</s>"])
    return tok


def metaspace_tokenizer(scheme, split, normalizer, **bpe_options):
    vocab, merges = metaspace_vocab(**bpe_options)
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=scheme == "first", **bpe_options))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=scheme, split=split)
    tok.decoder = decoders.Metaspace(prepend_scheme=scheme, split=split)
    tok.post_processor = processors.TemplateProcessing(single="<unk> $A <unk>", special_tokens=[("<unk>", vocab["<unk>"])])
    return tok


def byte_level_with(pre_tokenizer, normalizer=None, **bpe_options):
    tok = Tokenizer(byte_bpe(**bpe_options))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizer, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    return tok


BEHAVIORS = ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]

CONFIGS = {
    "llama2_byte_fallback": llama2_style,
    "metaspace_first_nfkc_lowercase_strip": lambda: metaspace_tokenizer(
        "first", True, normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])),
    "metaspace_always_nosplit_nfd": lambda: metaspace_tokenizer("always", False, normalizers.NFD()),
    "metaspace_never_nfkd_suffix": lambda: metaspace_tokenizer("never", True, normalizers.NFKD(), end_of_word_suffix="</w>"),
    "metaspace_prefix": lambda: metaspace_tokenizer("always", True, normalizers.NFC(), continuing_subword_prefix="##"),
    "gpt2_regex_prefix_space": lambda: _gpt2(),
    "ignore_merges_digits": lambda: byte_level_with(pre_tokenizers.Digits(individual_digits=True), ignore_merges=True),
    "digits_runs_punctuation": lambda: byte_level_with(pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=False), pre_tokenizers.Punctuation()])),
    "whitespace": lambda: byte_level_with(pre_tokenizers.Whitespace()),
    "whitespace_split": lambda: byte_level_with(pre_tokenizers.WhitespaceSplit()),
    "bert_pre_tokenizer": lambda: byte_level_with(pre_tokenizers.BertPreTokenizer()),
    "char_delimiter": lambda: byte_level_with(pre_tokenizers.CharDelimiterSplit("e")),
    "replace_regex_normalizer": lambda: byte_level_with(
        pre_tokenizers.Split(Regex(r"\s+(?!\S)|\s+|\p{L}+|\p{N}{1,3}"), "isolated"),
        normalizers.Sequence([normalizers.Replace(Regex(r"[0-9]+"), "#"), normalizers.Replace("the", "THE")])),
    **{f"split_{behavior}_{'inverted' if invert else 'plain'}": (
        lambda behavior=behavior, invert=invert: byte_level_with(
            pre_tokenizers.Split(Regex(r"\s+|[\p{P}\p{S}]"), behavior, invert=invert)))
       for behavior in BEHAVIORS for invert in (False, True)},
    "split_literal_string": lambda: byte_level_with(pre_tokenizers.Split("th", "merged_with_next")),
    "split_lookahead_hex": lambda: byte_level_with(pre_tokenizers.Split(Regex(r"\h+|\w+(?=\s)|\s+(?!\S)"), "isolated")),
}


def _gpt2():
    tok = Tokenizer(byte_bpe())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    return tok


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_component_matches_hf(name, tmp_path):
    tok = CONFIGS[name]()
    tok.add_tokens(ADDED[1:])
    tok.add_special_tokens(ADDED[:1])
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    hf = Tokenizer.from_file(str(path))
    texts = TEXTS + SPECIAL_TEXTS
    for add_special in (True, False):
        expected = [e.ids for e in hf.encode_batch(texts, add_special_tokens=add_special)]
        answers = run_tool("encode", path, [{"text": t, "add_special_tokens": add_special} for t in texts])
        for text, want, got in zip(texts, expected, answers):
            if got.get("ids") != want:
                pytest.fail(f"{name}: ids differ for {text[:200]!r}\n ours={str(got)[:500]}\n hf={str(want)[:500]}")
        decoded = hf.decode_batch(expected, skip_special_tokens=False)
        skipped = hf.decode_batch(expected, skip_special_tokens=True)
        for text, want, want_skipped, got in zip(texts, decoded, skipped, answers):
            if got["decoded"] != want or got["decoded_skip_special"] != want_skipped:
                pytest.fail(f"{name}: decode differs for {text[:200]!r}\n ours={got['decoded'][:300]!r}\n hf={want[:300]!r}")
