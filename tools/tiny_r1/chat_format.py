"""tiny-r1's chat format: DeepSeek-R1's special tokens and a chat template that behaves like R1's.

A conversation renders as

    <｜begin▁of▁sentence｜>{system}<｜User｜>{question}<｜Assistant｜><think>\\n

and the model continues with its reasoning, "\\n</think>\\n\\n", the answer and
<｜end▁of▁sentence｜>.  As in the original DeepSeek-R1 template, the generation prompt opens
<think> after <｜Assistant｜>; the model was also trained to emit "<think>\\n" itself, so a prompt
that stops at <｜Assistant｜> (R1-0528 style) works as well.
"""

from __future__ import annotations

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# Ids 0, 1, 2 are BOS, EOS and PAD as in DeepSeek-V3/R1; the rest follow in this order.  The
# tool and fill-in-the-middle markers are never trained on but exist so that the chat template
# and any engine see the same vocabulary of markers as R1's.
SPECIAL_TOKENS = [
    BOS, EOS, PAD, THINK_OPEN, THINK_CLOSE, USER, ASSISTANT,
    "<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<|EOT|>",
    "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
    "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>",
    "<｜tool▁output▁end｜>", "<｜tool▁sep｜>",
]
# As in R1's tokenizer, the reasoning markers are added tokens but not "special" ones, so
# decoding with skip_special_tokens keeps them visible.
NON_SPECIAL_ADDED = {THINK_OPEN, THINK_CLOSE}

# Jinja template (HF chat_template).  Behaviour, as R1's:
# - all system messages are joined with a blank line and emitted right after BOS, unmarked;
# - a user turn emits <｜User｜>content<｜Assistant｜>;
# - an assistant turn keeps only the text after its last </think> and ends with EOS; tool
#   calls are rendered between the tool-call markers with JSON arguments in a fenced block;
# - tool results are grouped between <｜tool▁outputs▁begin｜> and <｜tool▁outputs▁end｜>;
# - add_generation_prompt adds <｜Assistant｜> when the last turn was not a user or tool turn,
#   then opens <think>.
CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='', in_tools=false) -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}"
    "{%- if ns.system -%}{%- set ns.system = ns.system + '\\n\\n' + message['content'] -%}"
    "{%- else -%}{%- set ns.system = message['content'] -%}{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{{- bos_token + ns.system -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "{%- if ns.in_tools -%}{{- '<｜tool▁outputs▁end｜>' -}}{%- set ns.in_tools = false -%}{%- endif -%}"
    "{{- '<｜User｜>' + message['content'] + '<｜Assistant｜>' -}}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{%- if ns.in_tools -%}{{- '<｜tool▁outputs▁end｜>' -}}{%- set ns.in_tools = false -%}{%- endif -%}"
    "{%- set content = message['content'] if message['content'] is string else '' -%}"
    "{%- if '</think>' in content -%}{%- set content = content.split('</think>')[-1] -%}{%- endif -%}"
    "{{- content -}}"
    "{%- if message['tool_calls'] is defined and message['tool_calls'] -%}"
    "{{- '<｜tool▁calls▁begin｜>' -}}"
    "{%- for call in message['tool_calls'] -%}"
    "{%- if not loop.first -%}{{- '\\n' -}}{%- endif -%}"
    "{%- set arguments = call['function']['arguments'] -%}"
    "{%- if arguments is not string -%}{%- set arguments = arguments | tojson -%}{%- endif -%}"
    "{{- '<｜tool▁call▁begin｜>' + call['type'] + '<｜tool▁sep｜>' + call['function']['name']"
    " + '\\n```json\\n' + arguments + '\\n```<｜tool▁call▁end｜>' -}}"
    "{%- endfor -%}"
    "{{- '<｜tool▁calls▁end｜>' -}}"
    "{%- endif -%}"
    "{{- '<｜end▁of▁sentence｜>' -}}"
    "{%- elif message['role'] == 'tool' -%}"
    "{%- if ns.in_tools -%}{{- '\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>' -}}"
    "{%- else -%}{{- '<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content']"
    " + '<｜tool▁output▁end｜>' -}}{%- set ns.in_tools = true -%}{%- endif -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if ns.in_tools -%}{{- '<｜tool▁outputs▁end｜>' -}}{%- endif -%}"
    "{%- if add_generation_prompt -%}"
    "{%- if messages[-1]['role'] not in ['user', 'tool'] -%}{{- '<｜Assistant｜>' -}}{%- endif -%}"
    "{{- '<think>\\n' -}}"
    "{%- endif -%}"
)


def render_prompt(user_text: str, system: str = "") -> str:
    """The generation prompt for one user turn, exactly as CHAT_TEMPLATE renders it."""
    return f"{BOS}{system}{USER}{user_text}{ASSISTANT}{THINK_OPEN}\n"


def render_completion(reasoning: str, response: str) -> str:
    """What the model writes after the generation prompt."""
    return f"{reasoning}\n{THINK_CLOSE}\n\n{response}{EOS}"


def training_pieces(user_text: str, reasoning: str, response: str) -> tuple[str, str]:
    """(context, target) of one training sequence.

    The target starts with "<think>\\n" so the model also learns to open its reasoning when a
    prompt ends at <｜Assistant｜>; loss is taken on the target only.
    """
    return f"{BOS}{USER}{user_text}{ASSISTANT}", f"{THINK_OPEN}\n" + render_completion(reasoning, response)
