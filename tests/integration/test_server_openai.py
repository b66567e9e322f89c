"""The OpenAI API through the official `openai` client: completions and chat, streaming and not, usage,
stop strings, seed reproducibility, n > 1, logprobs, reasoning_content, /v1/models."""

import openai
import pytest

MODEL = "tiny-r1"
QUESTION = [{"role": "user", "content": "What is 12 + 7?"}]


def test_models_lists_the_served_model(openai_client):
    models = openai_client.models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert openai_client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("gpt-4")


def test_completion_returns_text_and_usage(openai_client):
    r = openai_client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=16, temperature=0)
    assert r.object == "text_completion"
    assert len(r.choices) == 1
    assert isinstance(r.choices[0].text, str) and r.choices[0].text
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0
    assert 0 < r.usage.completion_tokens <= 16
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_completion_max_tokens_gives_finish_reason_length(openai_client):
    r = openai_client.completions.create(model=MODEL, prompt="Count:", max_tokens=5, temperature=0,
                                         extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5


def test_completion_stream_concatenates_to_the_non_streamed_text(openai_client):
    args = dict(model=MODEL, prompt="The capital of", max_tokens=24, temperature=0)
    whole = openai_client.completions.create(**args).choices[0].text
    chunks = list(openai_client.completions.create(stream=True, stream_options={"include_usage": True}, **args))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishes) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_completion_prompt_list_and_token_ids(openai_client):
    r = openai_client.completions.create(model=MODEL, prompt=["One", "Two"], max_tokens=4, temperature=0, n=2)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    # Greedy: both completions of a prompt are the same.
    assert r.choices[0].text == r.choices[1].text and r.choices[2].text == r.choices[3].text
    ids = openai_client.completions.create(model=MODEL, prompt=[0, 100, 200], max_tokens=3, temperature=0)
    assert ids.usage.prompt_tokens == 3


def test_chat_returns_reasoning_and_content(openai_client):
    r = openai_client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=300, temperature=0)
    assert r.object == "chat.completion"
    m = r.choices[0].message
    assert m.role == "assistant"
    # tiny-r1's template opens <think>; the reasoning parser moves the thinking out of content.
    reasoning = m.model_extra.get("reasoning_content")
    assert isinstance(reasoning, str) and reasoning
    assert "<think>" not in (m.content or "") and "</think>" not in (m.content or "")
    assert r.usage.completion_tokens > 0


def test_chat_stream_matches_non_stream_and_reports_usage(openai_client):
    args = dict(model=MODEL, messages=QUESTION, max_tokens=120, temperature=0)
    whole = openai_client.chat.completions.create(**args).choices[0].message
    stream = openai_client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **args)
    content, reasoning, roles, finishes, usage = "", "", [], [], None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            roles += [c.delta.role] if c.delta.role else []
            content += c.delta.content or ""
            reasoning += (c.delta.model_extra or {}).get("reasoning_content") or ""
            finishes += [c.finish_reason] if c.finish_reason else []
    assert roles == ["assistant"]
    assert content == (whole.content or "")
    assert reasoning == (whole.model_extra.get("reasoning_content") or "")
    assert len(finishes) == 1
    assert usage is not None and usage.completion_tokens > 0


def test_stop_string_ends_the_text_before_it(openai_client):
    base = openai_client.completions.create(model=MODEL, prompt="1 2 3 4", max_tokens=30, temperature=0,
                                            extra_body={"ignore_eos": True}).choices[0].text
    assert len(base) > 4
    stop = base[len(base) // 2: len(base) // 2 + 2]
    assert stop.strip(), f"pick a visible stop string from {base!r}"
    r = openai_client.completions.create(model=MODEL, prompt="1 2 3 4", max_tokens=30, temperature=0,
                                         stop=[stop], extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == base[: base.index(stop)]


def test_seed_reproduces_a_sampled_answer(openai_client):
    # tiny-r1 is near-deterministic on its arithmetic chats; an open story prompt samples differently.
    args = dict(model=MODEL, prompt="Once upon a time", max_tokens=20, temperature=1.0,
                extra_body={"ignore_eos": True})
    a = openai_client.completions.create(seed=1234, **args)
    b = openai_client.completions.create(seed=1234, **args)
    assert a.choices[0].text == b.choices[0].text
    others = {openai_client.completions.create(seed=s, **args).choices[0].text for s in range(6)}
    assert len(others) > 1, "different seeds gave the same sample every time"
    chat_args = dict(model=MODEL, messages=QUESTION, max_tokens=30, temperature=1.0)
    assert (openai_client.chat.completions.create(seed=99, **chat_args).choices[0].message ==
            openai_client.chat.completions.create(seed=99, **chat_args).choices[0].message)


def test_n_gives_independent_choices(openai_client):
    r = openai_client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=20, temperature=1.0,
                                         n=4, seed=7, extra_body={"ignore_eos": True})
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    assert len({c.text for c in r.choices}) > 1
    assert r.usage.completion_tokens == 4 * 20
    # The same seed gives the same four choices again, whatever else runs.
    again = openai_client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=20, temperature=1.0,
                                             n=4, seed=7, extra_body={"ignore_eos": True})
    assert [c.text for c in again.choices] == [c.text for c in r.choices]


def test_n_streams_every_choice(openai_client):
    stream = openai_client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=10, temperature=1.0,
                                                   n=3, seed=3, stream=True)
    finished = {}
    for chunk in stream:
        for c in chunk.choices:
            if c.finish_reason:
                finished[c.index] = c.finish_reason
    assert sorted(finished) == [0, 1, 2]


def test_chat_logprobs(openai_client):
    r = openai_client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=8, temperature=0,
                                              logprobs=True, top_logprobs=3)
    entries = r.choices[0].logprobs.content
    assert len(entries) == r.usage.completion_tokens
    for e in entries:
        assert e.logprob <= 0.0
        assert len(e.top_logprobs) == 3
        # Greedy: the sampled token is the most likely one.
        assert e.top_logprobs[0].logprob == pytest.approx(e.logprob, abs=1e-6)
        assert e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob
        assert bytes(e.bytes).decode(errors="replace") == e.token


def test_completion_logprobs(openai_client):
    r = openai_client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=6, temperature=0,
                                         logprobs=2, extra_body={"ignore_eos": True})
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert all(len(t) <= 2 for t in lp.top_logprobs)
    assert lp.text_offset == sorted(lp.text_offset)


def test_bad_values_raise_bad_request_with_the_field(openai_client):
    with pytest.raises(openai.BadRequestError) as e:
        openai_client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=-1)
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.NotFoundError) as e:
        openai_client.chat.completions.create(model="no-such-model", messages=QUESTION)
    assert e.value.body["code"] == "model_not_found"


def test_max_reasoning_tokens_closes_the_thinking_block(openai_client):
    args = dict(model=MODEL, messages=QUESTION, max_tokens=300, temperature=0)
    free = openai_client.chat.completions.create(**args).choices[0].message
    budget = openai_client.chat.completions.create(extra_body={"max_reasoning_tokens": 5}, **args).choices[0].message
    assert len(budget.model_extra["reasoning_content"]) < len(free.model_extra["reasoning_content"])
    assert budget.content, "no answer after the forced end of thinking"


def test_reasoning_parser_off_leaves_think_in_content():
    from server_harness import Server

    with Server("--reasoning-parser", "none") as s:
        status, body = s.post_json("/v1/chat/completions", {"messages": QUESTION, "max_tokens": 200,
                                                            "temperature": 0})
        assert status == 200, body
        message = body["choices"][0]["message"]
        assert message["reasoning_content"] is None
        assert "</think>" in message["content"]
