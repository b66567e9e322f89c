"""Unicode normalization against HF's normalizers (every code point, and the corpus);
and the documented behaviour for bad input: invalid UTF-8, a malformed or unsupported tokenizer.json, and a
10 MB text."""
import json
import unicodedata

import pytest
from tokenizers import normalizers

from test_tokenizer_common import corpus, real_tokenizer_dir, run_tool, run_tool_raw

FORMS = ["NFC", "NFD", "NFKC", "NFKD"]


def all_code_points():
    return [chr(cp) for cp in range(0x20, 0x110000) if not 0xD800 <= cp <= 0xDFFF]


@pytest.mark.parametrize("form", FORMS)
def test_every_code_point_matches_hf(form):
    chars = all_code_points()
    hf = getattr(normalizers, form)()
    answers = run_tool("normalize", form, [{"text": c} for c in chars])
    wrong = [(hex(ord(c)), a["text"]) for c, a in zip(chars, answers) if a["text"] != hf.normalize_str(c)]
    assert not wrong, wrong[:10]


def test_composition_sequences_match_unicodedata():
    # Pairs and reordering (what single code points cannot show), on text HF and Python agree on.
    texts = [unicodedata.normalize("NFD", t) for t in corpus()[:3000]] + ["a\u0301\u0323", "\u1100\u1161\u11a8"]
    answers = run_tool("normalize", "NFC", [{"text": t} for t in texts])
    wrong = [t[:60] for t, a in zip(texts, answers) if a["text"] != unicodedata.normalize("NFC", t)]
    assert not wrong, wrong[:5]


@pytest.mark.parametrize("form", FORMS)
def test_corpus_matches_hf_normalizers(form):
    texts = corpus()
    hf = getattr(normalizers, form)()
    answers = run_tool("normalize", form, [{"text": t} for t in texts])
    wrong = [t[:80] for t, a in zip(texts, answers) if a["text"] != hf.normalize_str(t)]
    assert not wrong, wrong[:5]


def test_lowercase_matches_hf():
    # HF lowercases with Rust's standard library, whose Unicode data is newer than the tables' (Python's);
    # code points assigned after the tables' version (e.g. U+1C89 in Unicode 16) are not compared.
    assigned = [c for c in all_code_points() if unicodedata.category(c) != "Cn"]
    texts = corpus() + assigned
    hf = normalizers.Lowercase()
    answers = run_tool("normalize", "lowercase", [{"text": t} for t in texts])
    wrong = [t[:80] for t, a in zip(texts, answers) if a["text"] != hf.normalize_str(t)]
    assert not wrong, wrong[:5]


@pytest.fixture(scope="module")
def deepseek(tmp_path_factory):
    return real_tokenizer_dir("deepseek-r1", tmp_path_factory.mktemp("errors")) / "tokenizer.json"


def test_invalid_utf8_is_a_clear_error(deepseek):
    answers = run_tool("encode", deepseek, [{"hex": "48656c6c6fff"}, {"hex": "e4b8"}, {"hex": "e4b8ad"}])
    assert "not valid UTF-8 (byte 5 of 6: 0xFF)" in answers[0]["error"]
    assert "not valid UTF-8 (byte 0 of 2" in answers[1]["error"]
    assert answers[2]["decoded"] == "中"


def test_malformed_tokenizer_json_is_a_clear_error(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text('{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [')
    proc = run_tool_raw(["encode", path])
    assert proc.returncode == 1
    assert "malformed JSON" in proc.stderr.decode() and str(path) in proc.stderr.decode()


@pytest.mark.parametrize("field,component", [
    ("normalizer", {"type": "Precompiled", "precompiled_charsmap": ""}),
    ("pre_tokenizer", {"type": "UnicodeScripts"}),
    ("decoder", {"type": "CTC"}),
    ("post_processor", {"type": "Mystery"}),
    ("model", {"type": "WordPiece", "vocab": {}}),
])
def test_unknown_component_type_is_a_clear_error(tmp_path, deepseek, field, component):
    doc = json.loads(deepseek.read_text(encoding="utf-8"))
    doc[field] = component
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    proc = run_tool_raw(["encode", path])
    assert proc.returncode == 1
    message = proc.stderr.decode()
    assert field in message and component["type"] in message and "unsupported" in message, message


def test_ten_megabyte_input_round_trips(deepseek):
    text = "".join(corpus())
    text = (text * (10_000_000 // len(text.encode()) + 1))[:10_000_000]
    answer = run_tool("encode", deepseek, [{"text": text, "add_special_tokens": False}])[0]
    assert "error" not in answer
    assert len(answer["ids"]) > len(text.encode()) // 8
    assert answer["decoded"] == text
