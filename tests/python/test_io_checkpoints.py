"""Checkpoint I/O against the reference `safetensors` library, and `fp4serve inspect` end to end.

- Files our streaming writer produces are read back by `safetensors.deserialize` (the library's own
  validating parser) with identical names, dtypes, shapes and bytes.
- Files the library writes (sharded, with an index, in NVFP4 / FP8 / BF16) are read by `fp4serve inspect`,
  whose counts must match what the test wrote.
- `inspect --config-only` on DeepSeek-R1's config prints the FP8 and NVFP4 totals the C++ test derives by
  hand (tests/unit/io/tensor_layout_test.cc), and unknown architectures are refused by name.
"""

from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pytest
from safetensors import TensorSpec, deserialize, serialize_file

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


def build_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("FP4SERVE_BUILD", REPO / "build"))


def binary(relative: str) -> pathlib.Path:
    path = build_dir() / relative
    if not path.exists():
        pytest.fail(f"{path} is missing: build the project first (make build) or set FP4SERVE_BUILD")
    return path


def run_inspect(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(binary("src/fp4serve")), "inspect", *args], capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


# ---- our writer → the reference reader ----

def test_our_sharded_output_reads_in_python_safetensors(tmp_path):
    env = dict(os.environ, FP4_IO_EXPORT_DIR=str(tmp_path))
    proc = subprocess.run(
        [str(binary("tests/test_io")), "--gtest_filter=SafetensorsWriter.ExportsAShardedCheckpointForThePythonReader"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1

    tensors = {}
    for shard in shards:
        for name, info in deserialize((tmp_path / shard).read_bytes()):
            assert index["weight_map"][name] == shard
            tensors[name] = info
    assert set(tensors) == set(index["weight_map"])
    assert index["metadata"]["total_size"] == sum(len(t["data"]) for t in tensors.values())

    # The values the C++ test writes (see the comment there).
    f32 = tensors["layer.f32"]
    assert (f32["dtype"], f32["shape"]) == ("F32", [6, 5])
    assert np.array_equal(np.frombuffer(bytes(f32["data"]), "<f4"), np.arange(30, dtype=np.float32) * 0.25 - 3)
    bf16 = tensors["layer.bf16"]
    assert (bf16["dtype"], bf16["shape"]) == ("BF16", [4, 8])
    assert np.array_equal(np.frombuffer(bytes(bf16["data"]), "<u2"), 0x3F80 + np.arange(32, dtype=np.uint16))
    packed = tensors["layer.packed.weight"]
    assert (packed["dtype"], packed["shape"]) == ("U8", [3, 16])
    assert bytes(packed["data"]) == bytes((i * 7 + 3) & 255 for i in range(48))
    scale = tensors["layer.packed.weight_scale"]
    assert (scale["dtype"], scale["shape"], bytes(scale["data"])) == ("F8_E4M3", [3, 2], b"\x38" * 6)
    scalar = tensors["layer.packed.weight_scale_2"]
    assert (scalar["dtype"], scalar["shape"]) == ("F32", [])
    assert struct.unpack("<f", bytes(scalar["data"])) == (448.0,)


# ---- the reference writer → our reader ----

class LibraryCheckpoint:
    """Writes tensors with safetensors.serialize_file, sharded with an index like Hugging Face does."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.shards: list[dict[str, tuple[str, list[int], np.ndarray]]] = [{}]

    def add(self, name: str, dtype: str, shape: list[int], data: np.ndarray) -> None:
        self.shards[-1][name] = (dtype, shape, np.ascontiguousarray(data))

    def new_shard(self) -> None:
        self.shards.append({})

    def write(self) -> None:
        count = len(self.shards)
        weight_map = {}
        total = 0
        for i, shard in enumerate(self.shards):
            file = f"model-{i + 1:05d}-of-{count:05d}.safetensors"
            specs = {name: TensorSpec(dtype=dtype, shape=shape, data_ptr=arr.ctypes.data, data_len=arr.nbytes)
                     for name, (dtype, shape, arr) in shard.items()}
            serialize_file(specs, str(self.root / file), {"format": "pt"})
            for name, (_, _, arr) in shard.items():
                weight_map[name] = file
                total += arr.nbytes
        (self.root / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))


TINY_QWEN3 = {
    "model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "vocab_size": 64, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "head_dim": 16, "rms_norm_eps": 1e-6, "rope_theta": 1000000, "tie_word_embeddings": False,
}


def test_inspect_reads_a_library_written_nvfp4_checkpoint(tmp_path):
    cfg = TINY_QWEN3
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "hf_quant_config.json").write_text(json.dumps(
        {"producer": {"name": "modelopt", "version": "0.33.0"},
         "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8", "group_size": 16,
                          "exclude_modules": ["lm_head"]}}))
    rng = np.random.default_rng(0)
    h, inter, vocab = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    q, kv = cfg["num_attention_heads"] * cfg["head_dim"], cfg["num_key_value_heads"] * cfg["head_dim"]
    ckpt = LibraryCheckpoint(tmp_path)
    bf16_bytes = nvfp4_bytes = f32_bytes = 0
    nvfp4_params = bf16_params = 0

    def bf16(name, shape):
        nonlocal bf16_bytes, bf16_params
        n = int(np.prod(shape))
        ckpt.add(name, "bfloat16", shape, rng.integers(0, 1 << 16, n, dtype=np.uint16))
        bf16_bytes += 2 * n
        bf16_params += n

    def nvfp4(module, rows, cols):
        nonlocal nvfp4_bytes, nvfp4_params
        ckpt.add(f"{module}.weight", "uint8", [rows, cols // 2], rng.integers(0, 256, rows * cols // 2, dtype=np.uint8))
        ckpt.add(f"{module}.weight_scale", "float8_e4m3fn", [rows, cols // 16], np.full(rows * cols // 16, 0x38, np.uint8))
        ckpt.add(f"{module}.weight_scale_2", "float32", [], np.array([0.01], np.float32))
        ckpt.add(f"{module}.input_scale", "float32", [], np.array([0.02], np.float32))
        nvfp4_bytes += rows * cols // 2 + rows * cols // 16 + 8
        nvfp4_params += rows * cols

    bf16("model.embed_tokens.weight", [vocab, h])
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        bf16(p + "input_layernorm.weight", [h])
        bf16(p + "post_attention_layernorm.weight", [h])
        bf16(p + "self_attn.q_norm.weight", [cfg["head_dim"]])
        bf16(p + "self_attn.k_norm.weight", [cfg["head_dim"]])
        for name, rows, cols in [("q_proj", q, h), ("k_proj", kv, h), ("v_proj", kv, h), ("o_proj", h, q)]:
            nvfp4(p + "self_attn." + name, rows, cols)
        ckpt.add(p + "self_attn.k_proj.k_scale", "float32", [], np.array([1.0], np.float32))
        ckpt.add(p + "self_attn.v_proj.v_scale", "float32", [], np.array([1.0], np.float32))
        f32_bytes += 8
        for name, rows, cols in [("gate_proj", inter, h), ("up_proj", inter, h), ("down_proj", h, inter)]:
            nvfp4(p + "mlp." + name, rows, cols)
        ckpt.new_shard()
    bf16("model.norm.weight", [h])
    bf16("lm_head.weight", [vocab, h])
    ckpt.write()

    report = json.loads(run_inspect("--json", str(tmp_path)).stdout)
    stored = report["stored"]
    assert report["architecture"] == "qwen3"
    assert report["quantization"]["method"] == "modelopt-nvfp4"
    assert report["quantization"]["kv_cache_quant_algo"] == "FP8"
    assert stored["files"] == 3
    assert stored["missing"] == [] and stored["unexpected"] == []
    enc = stored["by_encoding"]
    assert enc["nvfp4"]["bytes"] == nvfp4_bytes
    assert enc["nvfp4"]["parameters"] == nvfp4_params
    assert enc["nvfp4"]["tensors"] == 2 * 7 * 4
    assert enc["bf16"]["bytes"] == bf16_bytes
    assert enc["bf16"]["parameters"] == bf16_params
    assert enc["f32"]["bytes"] == f32_bytes  # the FP8 KV-cache scales
    assert stored["parameters"] == nvfp4_params + bf16_params
    # The layout's parameter count (from config.json) agrees with the stored weights.
    assert report["layout"]["parameters"] == stored["parameters"]
    # GQA KV cache: 2 × 2 kv heads × 16 × 2 layers.
    assert report["kv_cache"]["bytes_per_token_bf16"] == 2 * (2 * 2 * 16 * 2)
    text = run_inspect(str(tmp_path)).stdout
    assert "nvfp4" in text and "qwen3" in text


def test_inspect_reads_headers_only(tmp_path):
    """A 4 GiB checkpoint whose data was never written (a sparse file) is inspected without reading it:
    the command's peak resident memory stays far below the data size."""
    data_bytes = 4 << 30
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 1 << 30], "data_offsets": [0, data_bytes]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(tmp_path / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + data_bytes)
    out_path = tmp_path / "report.json"
    # Linux carries a process's peak RSS across exec, so a child forked straight from this (large) pytest
    # process would report pytest's own size. A small fresh interpreter forks and execs the command instead
    # and reports that grandchild's peak RSS (KiB) from wait4 on its last stderr line.
    measure = ("import os, sys\n"
               "pid = os.fork()\n"
               "if pid == 0:\n"
               "    os.execv(sys.argv[1], sys.argv[1:])\n"
               "_, status, usage = os.wait4(pid, 0)\n"
               "sys.stderr.write(f'\\nmaxrss_kib={usage.ru_maxrss}\\n')\n"
               "sys.exit(os.waitstatus_to_exitcode(status))\n")
    with open(out_path, "w") as out:
        child = subprocess.run([sys.executable, "-c", measure, str(binary("src/fp4serve")), "inspect", "--json",
                                str(tmp_path)], stdout=out, stderr=subprocess.PIPE, text=True)
    assert child.returncode == 0, child.stderr
    maxrss_kib = int(child.stderr.strip().splitlines()[-1].removeprefix("maxrss_kib="))
    report = json.loads(out_path.read_text())
    assert report["stored"]["tensor_bytes"] == data_bytes
    assert report["stored"]["by_encoding"]["bf16"]["parameters"] == 2 << 30
    assert maxrss_kib < 256 * 1024, f"peak RSS {maxrss_kib} KiB: inspect read tensor data"


# ---- --config-only ----

def test_config_only_deepseek_r1_fp8_vs_nvfp4():
    report = json.loads(run_inspect("--config-only", "--json", str(DATA / "deepseek_r1")).stdout)
    assert report["architecture"] == "deepseek_v3"
    assert report["layout"]["parameters"] == 684_489_845_504
    recipes = report["recipes"]
    # Hand count: tests/unit/io/tensor_layout_test.cc (DeepSeekR1RecipeTotalsMatchAHandCount).
    assert recipes["fp8-block"]["bytes"] == 688_574_839_360
    assert recipes["nvfp4"]["bytes"] == 423_605_060_024
    assert recipes["fp8_over_nvfp4"] == pytest.approx(688_574_839_360 / 423_605_060_024, rel=1e-12)
    # MLA latent cache: (512 + 64) × 61 layers × 2 bytes.
    assert report["kv_cache"]["bytes_per_token_bf16"] == 576 * 61 * 2
    text = run_inspect("--config-only", str(DATA / "deepseek_r1")).stdout
    assert "688,574,839,360" in text and "423,605,060,024" in text and "1.626x" in text


def test_config_only_accepts_a_config_file_path():
    report = json.loads(run_inspect("--config-only", "--json", str(DATA / "r1_distill_llama_8b" / "config.json")).stdout)
    assert report["architecture"] == "llama"
    # 2 × 8 kv heads × 128 × 32 layers × 2 bytes
    assert report["kv_cache"]["bytes_per_token_bf16"] == 2 * 8 * 128 * 32 * 2


def test_unknown_architecture_is_refused_by_name(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mistral", "hidden_size": 4096}))
    proc = run_inspect("--config-only", str(tmp_path), check=False)
    assert proc.returncode == 1
    assert "model_type 'mistral' is not supported" in proc.stderr
    assert "deepseek_v3, deepseek_v2, llama, qwen2, qwen3" in proc.stderr
    assert proc.stderr.count("\n") == 1


@pytest.mark.parametrize("case,fragment", [
    ("truncated", "runs past the end of the"),
    ("bad_json", "header is not valid JSON"),
    ("overlap", "overlap"),
    ("out_of_range", "lie outside the data section"),
    ("wrong_length", "hold 10 bytes, but BF16 [2, 3] needs 12"),
    ("unknown_dtype", "unknown dtype 'F4'"),
    ("missing_shard", "shard model-00002-of-00002.safetensors is missing"),
])
def test_corrupt_checkpoints_give_their_own_message(tmp_path, case, fragment):
    def image(header: str, data: int) -> bytes:
        return struct.pack("<Q", len(header)) + header.encode() + bytes(data)

    u8 = '{{"{}":{{"dtype":"U8","shape":[{}],"data_offsets":[{},{}]}}}}'
    files = {
        "truncated": image(u8.format("w", 8, 0, 8), 8)[:20],
        "bad_json": image('{"w":', 0),
        "overlap": image('{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},'
                         '"b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}}', 12),
        "out_of_range": image(u8.format("w", 8, 100, 108), 8),
        "wrong_length": image('{"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,10]}}', 10),
        "unknown_dtype": image('{"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}', 1),
    }
    if case == "missing_shard":
        (tmp_path / "model-00001-of-00002.safetensors").write_bytes(image(u8.format("a", 4, 0, 4), 4))
        (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {
            "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
    else:
        (tmp_path / "model.safetensors").write_bytes(files[case])
    proc = run_inspect(str(tmp_path), check=False)
    assert proc.returncode == 1
    assert fragment in proc.stderr
    assert proc.stderr.startswith("fp4serve: error: ") and proc.stderr.count("\n") == 1
