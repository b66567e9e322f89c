"""The shipped tiny-r1 release folder is well-formed.

Reads models/tiny-r1 with nothing but the safetensors file layout (8-byte header length, JSON
header, raw little-endian data), numpy/ml_dtypes, HF tokenizers and jinja2, so a broken file
is caught without torch or transformers.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys

import jinja2
import ml_dtypes
import numpy as np
import pytest
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(ROOT, "models", "tiny-r1")
sys.path.insert(0, os.path.join(ROOT, "tools", "tiny_r1"))
import chat_format  # noqa: E402

MIB = 1 << 20
DTYPES = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "BF16": ml_dtypes.bfloat16, "F32": np.float32}


def _read_safetensors(path: str) -> dict[str, tuple[str, list[int], np.ndarray]]:
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8: 8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        begin, end = meta["data_offsets"]
        dtype = DTYPES[meta["dtype"]]
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(meta["shape"])
        out[name] = (meta["dtype"], meta["shape"], array)
    return out


@pytest.fixture(scope="module")
def config() -> dict:
    with open(os.path.join(RELEASE, "config.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def tensors() -> dict:
    return _read_safetensors(os.path.join(RELEASE, "model.safetensors"))


def _expected_shapes(c: dict) -> dict[str, tuple[str, list[int]]]:
    """Every tensor the release must hold: name -> (dtype, shape), from config.json alone."""
    h, heads = c["hidden_size"], c["num_attention_heads"]
    qk = c["qk_nope_head_dim"] + c["qk_rope_head_dim"]
    shapes: dict[str, tuple[str, list[int]]] = {
        "model.embed_tokens.weight": ("BF16", [c["vocab_size"], h]),
        "model.norm.weight": ("BF16", [h]),
        "lm_head.weight": ("BF16", [c["vocab_size"], h]),
    }

    def fp8(name: str, rows: int, cols: int) -> None:
        shapes[name + ".weight"] = ("F8_E4M3", [rows, cols])
        shapes[name + ".weight_scale_inv"] = ("F32", [math.ceil(rows / 128), math.ceil(cols / 128)])

    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}"
        shapes[f"{p}.input_layernorm.weight"] = ("BF16", [h])
        shapes[f"{p}.post_attention_layernorm.weight"] = ("BF16", [h])
        shapes[f"{p}.self_attn.q_a_layernorm.weight"] = ("BF16", [c["q_lora_rank"]])
        shapes[f"{p}.self_attn.kv_a_layernorm.weight"] = ("BF16", [c["kv_lora_rank"]])
        fp8(f"{p}.self_attn.q_a_proj", c["q_lora_rank"], h)
        fp8(f"{p}.self_attn.q_b_proj", heads * qk, c["q_lora_rank"])
        fp8(f"{p}.self_attn.kv_a_proj_with_mqa", c["kv_lora_rank"] + c["qk_rope_head_dim"], h)
        fp8(f"{p}.self_attn.kv_b_proj", heads * (c["qk_nope_head_dim"] + c["v_head_dim"]), c["kv_lora_rank"])
        fp8(f"{p}.self_attn.o_proj", h, heads * c["v_head_dim"])
        if layer < c["first_k_dense_replace"]:
            fp8(f"{p}.mlp.gate_proj", c["intermediate_size"], h)
            fp8(f"{p}.mlp.up_proj", c["intermediate_size"], h)
            fp8(f"{p}.mlp.down_proj", h, c["intermediate_size"])
            continue
        inter = c["moe_intermediate_size"]
        shapes[f"{p}.mlp.gate.weight"] = ("BF16", [c["n_routed_experts"], h])
        shapes[f"{p}.mlp.gate.e_score_correction_bias"] = ("F32", [c["n_routed_experts"]])
        for e in range(c["n_routed_experts"]):
            fp8(f"{p}.mlp.experts.{e}.gate_proj", inter, h)
            fp8(f"{p}.mlp.experts.{e}.up_proj", inter, h)
            fp8(f"{p}.mlp.experts.{e}.down_proj", h, inter)
        shared = inter * c["n_shared_experts"]
        fp8(f"{p}.mlp.shared_experts.gate_proj", shared, h)
        fp8(f"{p}.mlp.shared_experts.up_proj", shared, h)
        fp8(f"{p}.mlp.shared_experts.down_proj", h, shared)
    return shapes


def test_release_folder_has_the_files_and_fits_16_mib():
    names = set(os.listdir(RELEASE))
    for required in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                     "model.safetensors", "README.md"):
        assert required in names, f"models/tiny-r1 lacks {required}"
    total = sum(os.path.getsize(os.path.join(RELEASE, n)) for n in names)
    assert total <= 16 * MIB, f"release folder is {total} bytes, over 16 MiB"


def test_config_is_a_deepseek_v3_with_the_architecture_the_issue_asks_for(config):
    assert config["model_type"] == "deepseek_v3"
    assert config["architectures"] == ["DeepseekV3ForCausalLM"]
    assert config["q_lora_rank"] is not None
    assert config["first_k_dense_replace"] >= 1
    assert config["n_routed_experts"] >= 16 and config["num_experts_per_tok"] >= 4
    assert config["n_group"] > config["topk_group"] >= 1
    assert config["n_routed_experts"] % config["n_group"] == 0
    assert config["n_shared_experts"] == 1
    assert config["topk_method"] == "noaux_tc" and config["scoring_func"] == "sigmoid"
    rope = config["rope_parameters"]
    assert rope["rope_type"] == "yarn" and rope["factor"] > 1
    assert config["max_position_embeddings"] == rope["factor"] * rope["original_max_position_embeddings"]
    assert config["quantization_config"] == {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic",
                                             "weight_block_size": [128, 128]}
    for key in ("hidden_size", "q_lora_rank", "kv_lora_rank", "moe_intermediate_size", "intermediate_size",
                "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
        assert config[key] % 16 == 0, f"{key}={config[key]} is not a multiple of 16 (NVFP4 groups)"


def test_generation_config_uses_r1_sampling_settings():
    with open(os.path.join(RELEASE, "generation_config.json")) as f:
        gen = json.load(f)
    assert gen["temperature"] == 0.6 and gen["top_p"] == 0.95 and gen["do_sample"] is True
    assert (gen["bos_token_id"], gen["eos_token_id"]) == (0, 1)


def test_every_tensor_has_the_shape_and_dtype_the_config_implies(config, tensors):
    expected = _expected_shapes(config)
    assert set(tensors) == set(expected), (
        f"missing {sorted(set(expected) - set(tensors))[:5]}, unexpected {sorted(set(tensors) - set(expected))[:5]}")
    for name, (dtype, shape) in expected.items():
        got_dtype, got_shape, _ = tensors[name]
        assert (got_dtype, got_shape) == (dtype, shape), f"{name}: {got_dtype} {got_shape}, expected {dtype} {shape}"


def test_fp8_weights_dequantize_to_finite_values_that_use_the_e4m3_range(tensors):
    for name, (dtype, shape, q) in tensors.items():
        if dtype != "F8_E4M3":
            continue
        scale = tensors[name + "_scale_inv"][2]
        assert np.all(np.isfinite(scale)) and np.all(scale > 0), f"{name}_scale_inv has non-positive entries"
        values = q.astype(np.float32)
        assert np.all(np.isfinite(values)), f"{name} holds NaN codes"
        # Each 128x128 block was scaled so that its largest magnitude maps to e4m3's maximum, 448.
        rows, cols = shape
        for bi in range(scale.shape[0]):
            for bj in range(scale.shape[1]):
                block = values[bi * 128:(bi + 1) * 128, bj * 128:(bj + 1) * 128]
                assert np.abs(block).max() == 448.0, f"{name} block ({bi},{bj}) max {np.abs(block).max()}"


def test_routing_biases_were_learned_and_kept_non_negative(config, tensors):
    for layer in range(config["first_k_dense_replace"], config["num_hidden_layers"]):
        bias = tensors[f"model.layers.{layer}.mlp.gate.e_score_correction_bias"][2]
        assert np.all(np.isfinite(bias))
        # Auxiliary-loss-free balancing moves each bias every step; the export shifts each
        # layer so its smallest bias is exactly 0 (selection only sees differences).
        assert bias.min() == 0.0, f"layer {layer}: smallest bias {bias.min()}"
        assert bias.max() > 0.01 and len(np.unique(bias)) > config["n_routed_experts"] // 2, (
            f"layer {layer}: biases look untrained: {bias}")


def test_tokenizer_loads_and_has_r1_special_tokens(config):
    tok = Tokenizer.from_file(os.path.join(RELEASE, "tokenizer.json"))
    assert tok.get_vocab_size() <= config["vocab_size"] <= 8192
    for i, token in enumerate(chat_format.SPECIAL_TOKENS):
        assert tok.token_to_id(token) == i, token
    text = chat_format.render_prompt("What is 4728 + 395?") + "Add 4728 and 395.\n</think>\n\n\\boxed{5123}"
    enc = tok.encode(text, add_special_tokens=False)
    assert tok.decode(enc.ids, skip_special_tokens=False) == text
    # Digits are single tokens, so every column step of the reasoning has the same shape.
    digits = [t for t in enc.tokens if any(ch.isdigit() for ch in t)]
    assert digits and all(len(t) == 1 for t in digits), digits
    # The post-processor adds BOS like DeepSeek's tokenizer.
    assert tok.encode("hi").ids[0] == 0


def test_tokenizer_config_declares_tokens_and_the_chat_template():
    with open(os.path.join(RELEASE, "tokenizer_config.json")) as f:
        cfg = json.load(f)
    assert cfg["bos_token"] == chat_format.BOS and cfg["eos_token"] == chat_format.EOS
    assert cfg["chat_template"] == chat_format.CHAT_TEMPLATE
    assert cfg["added_tokens_decoder"]["3"]["content"] == "<think>" and not cfg["added_tokens_decoder"]["3"]["special"]


def _render(messages, add_generation_prompt=True):
    env = jinja2.Environment()
    env.filters["tojson"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env.from_string(chat_format.CHAT_TEMPLATE).render(
        messages=messages, bos_token=chat_format.BOS, add_generation_prompt=add_generation_prompt)


def test_chat_template_opens_think_after_the_assistant_marker():
    assert _render([{"role": "user", "content": "Hi"}]) == chat_format.render_prompt("Hi")
    assert _render([{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Be kind."},
                    {"role": "user", "content": "Hi"}]) == chat_format.render_prompt("Hi", "Be brief.\n\nBe kind.")


def test_chat_template_drops_earlier_reasoning_and_renders_tools():
    history = [{"role": "user", "content": "1+1?"},
               {"role": "assistant", "content": "<think>\nsmall\n</think>\n\n2"},
               {"role": "user", "content": "And 2+2?"}]
    assert _render(history) == (f"{chat_format.BOS}<｜User｜>1+1?<｜Assistant｜>\n\n2<｜end▁of▁sentence｜>"
                                f"<｜User｜>And 2+2?<｜Assistant｜><think>\n")
    tools = [{"role": "user", "content": "Weather?"},
             {"role": "assistant", "content": "", "tool_calls": [
                 {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Seoul"}}}]},
             {"role": "tool", "content": "sunny"}, {"role": "tool", "content": "25C"}]
    assert _render(tools) == (
        f"{chat_format.BOS}<｜User｜>Weather?<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function"
        "<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"Seoul\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
        "<｜end▁of▁sentence｜><｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>sunny<｜tool▁output▁end｜>"
        "\n<｜tool▁output▁begin｜>25C<｜tool▁output▁end｜><｜tool▁outputs▁end｜><think>\n")


def test_model_card_states_the_prompt_contract_and_measured_accuracy():
    with open(os.path.join(RELEASE, "README.md"), encoding="utf-8") as f:
        card = f.read()
    for needle in ("Please reason step by step, and put your final answer within \\boxed{}.",
                   "다음 문제를 차근차근 풀고, 최종 답을 \\boxed{} 안에 적어 주세요.",
                   "Answer the following multiple choice question.", "dequantized", "Apache-2.0",
                   "greedy", "temperature 0.6"):
        assert needle in card, f"model card lacks {needle!r}"
