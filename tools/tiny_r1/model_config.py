"""tiny-r1's architecture: a small DeepSeek-V3 (MLA, group-routed MoE with noaux_tc, YaRN).

Every matrix dimension is a multiple of 16 (NVFP4 groups) and most are multiples of 128 (FP8
blocks).  kv_a_proj_with_mqa has 128 + 32 = 160 output rows, so its FP8 scale grid has a
partial edge block, just like R1's 576-row projection.

Parameter count (8 layers, 1 dense): attention 0.26 M a layer, dense MLP 0.59 M, each MoE layer
16 x 98 K routed + 98 K shared = 1.67 M, embeddings and lm_head 2 x 0.33 M.  In the FP8 release
(1 byte a linear weight, BF16 embeddings/lm_head) that is about 15 MB.
"""

from __future__ import annotations

import json

VOCAB_SIZE = 1280  # the tokenizer's ids fit below this; rows past the last id are padding

CONFIG = {
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 256,
    "intermediate_size": 768,
    "moe_intermediate_size": 128,
    "num_hidden_layers": 8,
    "num_attention_heads": 8,
    "num_key_value_heads": 8,
    "n_shared_experts": 1,
    "n_routed_experts": 16,
    "routed_scaling_factor": 2.5,
    "kv_lora_rank": 128,
    "q_lora_rank": 128,
    "qk_rope_head_dim": 32,
    "v_head_dim": 32,
    "qk_nope_head_dim": 32,
    "n_group": 4,
    "topk_group": 2,
    "num_experts_per_tok": 4,
    "first_k_dense_replace": 1,
    "norm_topk_prob": True,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "bos_token_id": 0,
    "eos_token_id": 1,
    "pad_token_id": 2,
    "rope_interleave": True,
    "attention_bias": False,
    "attention_dropout": 0.0,
    "num_nextn_predict_layers": 0,
    # YaRN: trained at up to 512 positions' worth of original context, extended 4x.  With
    # mscale_all_dim = 1 the softmax scale gains (0.1 ln 4 + 1)^2 and cos/sin stay unscaled,
    # the same arrangement as R1.
    "rope_parameters": {
        "rope_type": "yarn",
        "rope_theta": 10000.0,
        "factor": 4.0,
        "original_max_position_embeddings": 512,
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "mscale": 1.0,
        "mscale_all_dim": 1.0,
    },
}

# Written into the release's config.json, in the shape DeepSeek's FP8 checkpoints use.
QUANTIZATION_CONFIG = {
    "quant_method": "fp8",
    "fmt": "e4m3",
    "activation_scheme": "dynamic",
    "weight_block_size": [128, 128],
}

# Extra keys DeepSeek's config.json carries and that our engine and other readers use; the
# transformers class ignores them but keeps them in the file.
DEEPSEEK_EXTRAS = {"scoring_func": "sigmoid", "topk_method": "noaux_tc", "moe_layer_freq": 1}


def make_config(**overrides):
    """The transformers DeepseekV3Config for tiny-r1 (imports transformers lazily)."""
    from transformers import DeepseekV3Config

    values = json.loads(json.dumps(CONFIG))
    values.update(overrides)
    return DeepseekV3Config(**values)
