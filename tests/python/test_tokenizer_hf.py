"""Ids and decoded text of the C++ tokenizer equal Hugging Face `tokenizers` on the generated corpus, for
every real tokenizer, with and without special tokens; the streaming detokenizer reproduces decode()."""
import pytest
from tokenizers import Tokenizer as HfTokenizer

from test_tokenizer_common import REAL_TOKENIZERS, corpus, real_tokenizer_dir, run_tool

CORPUS = corpus()


@pytest.fixture(scope="session")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("real_tokenizers")


def describe_mismatches(texts, ours, theirs, limit=5):
    lines = []
    for text, a, b in zip(texts, ours, theirs):
        if a != b:
            lines.append(f"text={text[:200]!r}\n  ours={str(a)[:300]}\n    hf={str(b)[:300]}")
            if len(lines) == limit:
                break
    return "\n".join(lines)


def test_corpus_is_large_and_varied():
    assert len(CORPUS) >= 5000
    assert any("다음 방정식을 풀어주세요" in s for s in CORPUS)
    assert any(len(s.encode()) >= 100_000 for s in CORPUS)
    assert any("\u200d" in s for s in CORPUS)  # ZWJ emoji sequences


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
@pytest.mark.parametrize("add_special_tokens", [False, True])
def test_ids_and_decode_match_hf(name, add_special_tokens, scratch):
    folder = real_tokenizer_dir(name, scratch)
    hf = HfTokenizer.from_file(str(folder / "tokenizer.json"))
    expected = [e.ids for e in hf.encode_batch(CORPUS, add_special_tokens=add_special_tokens)]
    answers = run_tool("encode", folder / "tokenizer.json",
                       [{"text": s, "add_special_tokens": add_special_tokens} for s in CORPUS])
    errors = [a["error"] for a in answers if "error" in a]
    assert not errors, errors[:3]
    ours = [a["ids"] for a in answers]
    mismatched = sum(a != b for a, b in zip(ours, expected))
    assert mismatched == 0, f"{mismatched} of {len(CORPUS)} differ:\n" + describe_mismatches(CORPUS, ours, expected)

    hf_decoded = hf.decode_batch(expected, skip_special_tokens=False)
    ours_decoded = [a["decoded"] for a in answers]
    assert ours_decoded == hf_decoded, describe_mismatches(CORPUS, ours_decoded, hf_decoded)
    hf_skipped = hf.decode_batch(expected, skip_special_tokens=True)
    assert [a["decoded_skip_special"] for a in answers] == hf_skipped

    # decode(encode(s)) == s wherever HF round-trips (and HF round-trips on most of the corpus).
    round_trips = [s for s, d in zip(CORPUS, hf_decoded) if d == s]
    if not add_special_tokens:  # with them, a BOS-adding template makes every decode differ from its input
        assert len(round_trips) > len(CORPUS) // 2
    ours_by_text = dict(zip(CORPUS, ours_decoded))
    assert all(ours_by_text[s] == s for s in round_trips)


@pytest.mark.parametrize("name", ["deepseek-r1", "qwen-3", "deepseek-r1-distill-llama-8b", "meta-llama-3-8b"])
def test_stream_decoder_reproduces_decode(name, scratch):
    folder = real_tokenizer_dir(name, scratch)
    hf = HfTokenizer.from_file(str(folder / "tokenizer.json"))
    texts = [s for s in CORPUS if len(s) < 2000][:1500]
    ids = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    # Also ids that split characters: emoji and CJK bytes cut across tokens in byte-level BPE.
    answers = run_tool("decode", folder / "tokenizer.json", [{"ids": i} for i in ids])
    for text_ids, answer in zip(ids, answers):
        assert "error" not in answer, answer
        assert answer["stream_text"] == answer["text"] == hf.decode(text_ids)
        # No piece but the final flush may end inside a character: JSON carried every piece as valid UTF-8,
        # so a split character would show as U+FFFD in a piece while absent from the text.
        if "\ufffd" not in answer["text"]:
            assert all("\ufffd" not in piece for piece in answer["stream"])


def test_stream_decoder_holds_split_characters(scratch):
    folder = real_tokenizer_dir("deepseek-r1", scratch)
    hf = HfTokenizer.from_file(str(folder / "tokenizer.json"))
    # "😀" is four bytes; find ids that split it and check nothing is emitted before the last one.
    ids = hf.encode("😀😀😀", add_special_tokens=False).ids
    assert len(ids) >= 2
    answer = run_tool("decode", folder / "tokenizer.json", [{"ids": ids}])[0]
    assert "".join(answer["stream"]) == "😀😀😀"
    assert all(piece in ("", "😀", "😀😀", "😀😀😀") for piece in answer["stream"])


@pytest.mark.parametrize("threads", [1, 4])
def test_batch_encode_matches_single(threads, scratch):
    folder = real_tokenizer_dir("deepseek-r1", scratch)
    texts = CORPUS[:2000]
    single = run_tool("encode", folder / "tokenizer.json", [{"text": s} for s in texts])
    batch = run_tool("batch", folder / "tokenizer.json", [{"text": s} for s in texts], [threads])
    assert [b["ids"] for b in batch] == [s["ids"] for s in single]


# Pairs of texts (HF's Tokenizer.encode(sequence, pair)): the corpus's first half against its second half read
# backwards (which holds the strings with special tokens), none of the 100 KB documents (time, not cases).
PAIRS = [(CORPUS[i], CORPUS[-1 - i]) for i in range(0, len(CORPUS) // 2, 3) if len(CORPUS[i]) + len(CORPUS[-1 - i]) < 4000]


def hf_pair_ids(hf, add_special_tokens):
    return [hf.encode(a, b, add_special_tokens=add_special_tokens).ids for a, b in PAIRS]


def our_pair_ids(tokenizer_json, add_special_tokens, pairs=PAIRS):
    answers = run_tool("encode", tokenizer_json, [{"text": a, "pair": b, "add_special_tokens": add_special_tokens}
                                                  for a, b in pairs])
    errors = [a["error"] for a in answers if "error" in a]
    assert not errors, errors[:3]
    return [a["ids"] for a in answers]


@pytest.mark.parametrize("name", REAL_TOKENIZERS)
@pytest.mark.parametrize("add_special_tokens", [False, True])
def test_pair_encoding_matches_hf(name, add_special_tokens, scratch):
    """Llama-3.2-Vision, DeepSeek-OCR and GLM-4 have pair templates; the rest join the two encodings."""
    assert sum("<|" in a + b or "<｜" in a + b for a, b in PAIRS) >= 100  # special-token text inside pairs
    folder = real_tokenizer_dir(name, scratch)
    hf = HfTokenizer.from_file(str(folder / "tokenizer.json"))
    expected = hf_pair_ids(hf, add_special_tokens)
    ours = our_pair_ids(folder / "tokenizer.json", add_special_tokens)
    texts = [f"{a[:100]!r} | {b[:100]!r}" for a, b in PAIRS]
    assert ours == expected, describe_mismatches(texts, ours, expected)


def pair_processors(vocab_of):
    """Post-processors built with HF's own API around a real vocabulary: every kind and their Sequences."""
    from tokenizers import processors

    bos, eos, user, assistant = (vocab_of(t) for t in ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
                                                        "<｜User｜>", "<｜Assistant｜>"))
    multi = {"id": "[TURN]", "ids": [user, assistant], "tokens": ["<｜User｜>", "<｜Assistant｜>"]}
    template = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", pair="$B:1 [TURN]:1 [BOS] $A:0 [EOS] $B:1",  # B first and twice, a 2-id token
        special_tokens=[("[BOS]", bos), ("[EOS]", eos), multi])
    return {
        "bert": processors.BertProcessing(("[SEP]", eos), ("[CLS]", bos)),
        "roberta": processors.RobertaProcessing(("</s>", eos), ("<s>", bos)),
        "template": template,
        "template-default-pair": processors.TemplateProcessing(single="[BOS] $A", special_tokens=[("[BOS]", bos)]),
        "bytelevel-then-template": processors.Sequence([processors.ByteLevel(), template]),
        "template-then-roberta": processors.Sequence([template, processors.RobertaProcessing(("</s>", eos), ("<s>", bos))]),
    }


@pytest.mark.parametrize("kind", ["bert", "roberta", "template", "template-default-pair", "bytelevel-then-template",
                                  "template-then-roberta"])
@pytest.mark.parametrize("add_special_tokens", [False, True])
def test_pair_encoding_post_processors_match_hf(kind, add_special_tokens, scratch, tmp_path):
    hf = HfTokenizer.from_file(str(real_tokenizer_dir("deepseek-r1", scratch) / "tokenizer.json"))
    hf.post_processor = pair_processors(hf.token_to_id)[kind]
    path = tmp_path / "tokenizer.json"
    path.write_text(hf.to_str(), encoding="utf-8")
    pairs = PAIRS[:200]
    expected = [hf.encode(a, b, add_special_tokens=add_special_tokens).ids for a, b in pairs]
    assert our_pair_ids(path, add_special_tokens, pairs) == expected
    # Single texts through the same processor.
    singles = run_tool("encode", path, [{"text": a, "add_special_tokens": add_special_tokens} for a, _ in pairs])
    assert [s["ids"] for s in singles] == [hf.encode(a, add_special_tokens=add_special_tokens).ids for a, _ in pairs]


def test_unusable_pair_template_is_an_error_only_for_pairs(scratch, tmp_path):
    """HF loads a pair template naming a special token that special_tokens lacks and panics when a pair is
    encoded; the C++ tokenizer loads it too, encodes single texts, and reports the pair as an error."""
    import json

    doc = json.loads((real_tokenizer_dir("llama-3.2-90b-vision", scratch) / "tokenizer.json").read_text(encoding="utf-8"))
    template = doc["post_processor"]["processors"][1]
    template["pair"][2]["SpecialToken"]["id"] = "<|not_listed|>"
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    hf = HfTokenizer.from_file(str(path))
    single, pair = run_tool("encode", path, [{"text": "hello"}, {"text": "hello", "pair": "world"}])
    assert single["ids"] == hf.encode("hello").ids
    assert "post_processor.processors[1].pair[2]" in pair["error"] and "<|not_listed|>" in pair["error"], pair
    # Without special tokens the template only orders the sequences, so HF encodes the pair, and so does this.
    (plain,) = run_tool("encode", path, [{"text": "hello", "pair": "world", "add_special_tokens": False}])
    assert plain["ids"] == hf.encode("hello", "world", add_special_tokens=False).ids
