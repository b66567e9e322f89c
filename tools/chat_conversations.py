#!/usr/bin/env python3
"""Seeded generator of chat conversations for checking chat-template rendering against transformers.

Each case is {"messages", "tools", "add_generation_prompt", "extra"}. The mix covers what real prompts
contain: with and without a system message (sometimes two), multi-turn chats whose earlier assistant
turns carry reasoning (inline <think>...</think> or a reasoning_content / reasoning field), tool calls
(arguments as a JSON string, as OpenAI clients send them, or as an object) with tool results,
add_generation_prompt on and off, Korean/Chinese/emoji/RTL text, and empty content.

`family` adapts the mix to what a template family accepts: DeepSeek templates concatenate tool-call
arguments as text and Llama 3 templates take one tool call per message; a few cases deliberately break
those rules so that both renderers must fail the same way.

Usage: python tools/chat_conversations.py --family qwen --count 60 --seed 1  (prints JSON lines)
"""
from __future__ import annotations

import argparse
import json
import random

TEXTS = [
    "Hello! How are you today?",
    "다음 방정식을 풀어주세요: x^2 - 5x + 6 = 0",
    "서울의 날씨는 어때요? 내일 우산이 필요할까요?",
    "请用中文解释一下量子纠缠。",
    "日本語で短い詩を書いてください。",
    "Family: 👨‍👩‍👧‍👦, thumbs: 👍🏽👍🏿, flag: 🇰🇷",
    "مرحبا بالعالم — שלום עולם",
    "Compute $\\int_0^1 x^2\\,dx$ and put the answer in \\boxed{}.",
    "```python\ndef f(x):\n    return x * 2\n```\nWhat does f(21) return?",
    "Line one\n\nLine three after a blank line\n",
    "   leading and trailing spaces   ",
    "Quotes: 'single' \"double\" and a backslash \\ here",
    "Numbers: 3.14159, 1e-05, 12345678901234567890",
    "Tabs\tand\tnewlines\nmixed\r\nwith CRLF",
    "Combining: e\u0301 vs \u00e9, zero width\u200bspace",
    "Special-looking text: <|im_start|> and <｜User｜> inside content",
    "What is 17 * 23?",
    "Translate 'good morning' into Korean, Chinese and Japanese.",
]

REASONING = [
    "The user asks a simple question. I should answer directly.",
    "Let me factor: (x-2)(x-3) = 0, so x = 2 or x = 3.",
    "먼저 문제를 이해해 봅시다. 그런 다음 단계별로 풉니다.",
    "Think about edge cases:\n1. empty input\n2. unicode\n",
    "",
]

ANSWERS = [
    "The answer is \\boxed{391}.",
    "x = 2 또는 x = 3 입니다.",
    "量子纠缠是一种量子现象。",
    "Sure — here you go! 🎉",
    "",
    "  spaced answer  ",
    "Final answer:\n\n42\n",
]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. 서울"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}, "precision": {"type": "integer", "default": 2}},
                "required": ["expression"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "top_k": {"type": "number"}}},
        },
    },
]

TOOL_RESULTS = [
    '{"temperature": 21.5, "condition": "맑음"}',
    "391",
    "No results found.",
    '{"items": ["a", "b"], "total": 2}',
    "",
]


def tool_arguments(rng: random.Random, name: str):
    if name == "get_weather":
        args = {"city": rng.choice(["Seoul", "서울", "北京", "Paris"]), "unit": rng.choice(["celsius", "fahrenheit"])}
    elif name == "calculator":
        args = {"expression": rng.choice(["17 * 23", "2 ** 10", "1 / 3"]), "precision": rng.choice([0, 2, 6])}
    else:
        args = {"query": rng.choice(["fp4 quantization", "한국어 검색", "emoji 🎉"]), "top_k": rng.choice([1, 3.5])}
    return args


def reasoning_turn(rng: random.Random, allow_fields: bool) -> dict:
    answer = rng.choice(ANSWERS)
    thought = rng.choice(REASONING)
    style = rng.choice(["inline", "inline_newlines", "field", "alias", "plain"] if allow_fields else ["inline", "plain"])
    if style == "inline":
        return {"role": "assistant", "content": f"<think>{thought}</think>{answer}"}
    if style == "inline_newlines":
        return {"role": "assistant", "content": f"<think>\n{thought}\n</think>\n\n{answer}"}
    if style == "field":
        return {"role": "assistant", "content": answer, "reasoning_content": thought}
    if style == "alias":
        return {"role": "assistant", "content": answer, "reasoning": thought}
    return {"role": "assistant", "content": answer}


def tool_call_turns(rng: random.Random, family: str, break_rules: bool) -> list[dict]:
    if family == "llama":
        count = 2 if break_rules else 1
    else:
        count = rng.choice([1, 1, 2, 3])
    calls = []
    for i in range(count):
        name = rng.choice(TOOLS)["function"]["name"]
        args = tool_arguments(rng, name)
        as_string = rng.random() < (0.85 if family == "deepseek" else 0.4)
        if break_rules and family == "deepseek":
            as_string = False
        arguments = json.dumps(args, ensure_ascii=rng.random() < 0.5) if as_string else args
        call = {"type": "function", "function": {"name": name, "arguments": arguments}}
        if rng.random() < 0.5:
            call["id"] = f"call_{i}_{rng.randrange(10**6)}"
        calls.append(call)
    content_choice = rng.random()
    if family == "deepseek" and break_rules:
        content = None  # transformers drops null keys, so these templates fail on it
    elif content_choice < 0.55:
        content = ""
    elif content_choice < 0.85 or family == "deepseek":
        content = "Let me check that for you."
    else:
        content = None
    turns = [{"role": "assistant", "content": content, "tool_calls": calls}]
    for call in calls:
        result = {"role": "tool", "content": rng.choice(TOOL_RESULTS)}
        if "id" in call:
            result["tool_call_id"] = call["id"]
        if family == "llama" and rng.random() < 0.3:
            result["role"] = "ipython"
        turns.append(result)
    turns.append({"role": "assistant", "content": rng.choice(ANSWERS)})
    return turns


def conversation(rng: random.Random, family: str, index: int) -> dict:
    messages: list[dict] = []
    break_rules = index % 17 == 16  # a few cases every renderer must reject identically
    if rng.random() < 0.6:
        messages.append({"role": "system", "content": rng.choice(["You are a helpful assistant.", "당신은 친절한 수학 선생님입니다.", "", "Answer briefly.\nUse Markdown."])})
        if family == "deepseek" and rng.random() < 0.2:
            messages.append({"role": "system", "content": "A second system message."})
    use_tools = family != "none" and rng.random() < 0.45
    turns = rng.choice([1, 1, 2, 3, 4])
    for turn in range(turns):
        messages.append({"role": "user", "content": rng.choice(TEXTS)})
        last = turn == turns - 1
        if use_tools and (rng.random() < 0.5 or break_rules):
            messages.extend(tool_call_turns(rng, family, break_rules))
            break_rules = False
            if last and rng.random() < 0.5:
                messages.pop()  # end on tool output: the model answers next
        elif not last or rng.random() < 0.35:
            messages.append(reasoning_turn(rng, allow_fields=family != "deepseek" or rng.random() < 0.3))
    tools = None
    if use_tools and family in ("qwen", "llama"):
        tools = rng.sample(TOOLS, rng.randint(1, len(TOOLS)))
    extra: dict = {}
    if family == "qwen":
        thinking = rng.choice([None, True, False])
        if thinking is not None:
            extra["enable_thinking"] = thinking
    if family == "llama":
        extra["date_string"] = rng.choice(["26 Jul 2024", "01 Jan 2026"])
        if tools is not None and rng.random() < 0.3:
            extra["tools_in_user_message"] = False
    return {"messages": messages, "tools": tools, "add_generation_prompt": rng.random() < 0.6, "extra": extra}


def generate(family: str, count: int, seed: int) -> list[dict]:
    rng = random.Random(f"{family}:{seed}")
    return [conversation(rng, family, i) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["deepseek", "qwen", "llama", "none"], default="qwen")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for case in generate(args.family, args.count, args.seed):
        print(json.dumps(case, ensure_ascii=False))


if __name__ == "__main__":
    main()
