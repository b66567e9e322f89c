# Writes tests/unit/ops/data/hf_rope_tables.json: RoPE inverse frequencies, attention factors and cos/sin at
# a few positions exactly as Hugging Face transformers computes them (f32 bit patterns), plus DeepSeek-V3's
# attention softmax scale. Needs torch and transformers (run where they are installed):
#   python3 tests/unit/ops/hf_rope_tables.py tests/unit/ops/data/hf_rope_tables.json
import json, sys, math
import torch, transformers
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
out = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": []}

def bits(t):
    return [int(v) for v in t.detach().to(torch.float32).contiguous().reshape(-1).view(torch.int32).tolist()]

def set_rope(config, theta, params):
    # transformers v5 keeps everything in config.rope_parameters (rope_theta included); v4 in rope_scaling.
    params = dict(params)
    if hasattr(config, "rope_parameters"):
        params["rope_theta"] = theta
        config.rope_parameters = params
    else:
        config.rope_theta = theta
        config.rope_scaling = None if params.get("rope_type") == "default" else params

def add(name, config, rope_type, positions):
    fn = ROPE_INIT_FUNCTIONS[rope_type] if rope_type != "default" else None
    if fn is None:
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
        inv, att = LlamaRotaryEmbedding.compute_default_rope_parameters(config, "cpu")
    else:
        inv, att = fn(config, "cpu")
    inv = inv.to(torch.float32)
    pos = torch.tensor(positions, dtype=torch.float32)
    freqs = pos[:, None] * inv[None, :]
    # the model's rotary embedding: (inv_freq[None, :, None] @ pos[None, None, :]).transpose(1, 2), then
    # cat(freqs, freqs).cos() * attention_scaling; we keep the first half (the second repeats it)
    freqs_mm = (inv[None, :, None].float() @ pos[None, None, :].float()).transpose(1, 2)[0]
    cos = freqs_mm.cos() * att
    sin = freqs_mm.sin() * att
    out["cases"].append({"name": name, "attention_factor": float(att), "inv_freq_bits": bits(inv),
                         "positions": positions, "cos_bits": bits(cos), "sin_bits": bits(sin),
                         "mm_equals_mul": bool(torch.equal(freqs, freqs_mm))})

from transformers import DeepseekV3Config, LlamaConfig, Qwen2Config, Qwen3Config
positions = [0, 1, 7, 100, 4095, 4096, 32767, 65536, 163839]
R1 = {"rope_type": "yarn", "factor": 40.0, "original_max_position_embeddings": 4096,
      "beta_fast": 32.0, "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0}
ds = DeepseekV3Config(max_position_embeddings=163840)
set_rope(ds, 10000.0, R1)
add("deepseek_r1_yarn", ds, "yarn", positions)
try:
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3Attention
    small = DeepseekV3Config(hidden_size=64, num_attention_heads=2, q_lora_rank=16, kv_lora_rank=16,
                             qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128, max_position_embeddings=163840)
    set_rope(small, 10000.0, R1)
    out["deepseek_scaling"] = DeepseekV3Attention(small, 0).scaling
except Exception as e:
    out["deepseek_scaling_error"] = repr(e)

v2 = DeepseekV3Config(max_position_embeddings=163840)
set_rope(v2, 10000.0, dict(R1, mscale=0.707, mscale_all_dim=0.707))
add("deepseek_v2_lite_yarn", v2, "yarn", positions)

q3 = Qwen3Config(hidden_size=4096, num_attention_heads=32, head_dim=128, max_position_embeddings=131072)
set_rope(q3, 1000000.0, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768,
                         "attn_factor": 0.8782488562869419})
add("qwen3_8b_yarn", q3, "yarn", positions)

q3b = Qwen3Config(hidden_size=4096, num_attention_heads=32, head_dim=128, max_position_embeddings=32768)
set_rope(q3b, 1000000.0, {"rope_type": "yarn", "factor": 4.0})
add("qwen_yarn_no_original", q3b, "yarn", positions)

ll = LlamaConfig(hidden_size=4096, num_attention_heads=32, max_position_embeddings=131072)
set_rope(ll, 500000.0, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 8192})
add("llama31_8b_llama3", ll, "llama3", positions)

qw = Qwen2Config(hidden_size=1536, num_attention_heads=12)
set_rope(qw, 10000.0, {"rope_type": "default"})
add("qwen2_default_128", qw, "default", positions)

lin = LlamaConfig(hidden_size=4096, num_attention_heads=32)
set_rope(lin, 10000.0, {"rope_type": "linear", "factor": 4.0})
add("llama_linear4", lin, "linear", positions)

# Fixture format: cos/sin as [positions][rotary_dim / 2] (HF's cat(freqs, freqs) repeats these).
for case in out["cases"]:
    half = len(case["inv_freq_bits"])
    for key in ("cos_bits", "sin_bits"):
        case[key] = [case[key][p * half:(p + 1) * half] for p in range(len(case["positions"]))]
    assert case.pop("mm_equals_mul"), "pos * inv_freq must equal the matmul form HF uses"
out["generated_by"] = "tests/unit/ops/hf_rope_tables.py"
out["deepseek_r1_softmax_scale"] = out.pop("deepseek_scaling", None)
json.dump(out, open(sys.argv[1], "w"), separators=(",", ":"))
print("wrote", sys.argv[1], "transformers", out["transformers"], "deepseek scale",
      out["deepseek_r1_softmax_scale"], out.get("deepseek_scaling_error", ""))
