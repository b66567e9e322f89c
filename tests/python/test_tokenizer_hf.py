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


@pytest.mark.parametrize("name", ["deepseek-r1", "qwen-3", "deepseek-r1-distill-llama-8b"])
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
