#!/usr/bin/env bash
# Train, export and evaluate tiny-r1 in one GPU session (about ten minutes on one H200).
#
#   OUT=/path/for/results TRAIN_SECONDS=300 EVAL_SECONDS=220 tools/tiny_r1/device_pipeline.sh
#
# A continuation phase starts from a release folder instead of random weights:
#   OUT=... INIT_FROM=models/tiny-r1 MIXTURE=phase2 STEPS=800 LR=1e-3 WARMUP=30 SEED=4321 \
#     EVAL_SECONDS=125 tools/tiny_r1/device_pipeline.sh
#
# BASELINE=<release folder> also evaluates that release on the same problems (same EVAL_SEED,
# EVAL_PER_FAMILY and EVAL_FAMILIES), in the background while the new model trains, into
# baseline_eval.json; BASELINE_SECONDS is its deadline.
#
# QAT_START / QAT_EVERY turn on quantization-aware steps (train.py --qat-start/--qat-every).
# EVAL_NVFP4=1 also evaluates what `fp4serve quantize --format nvfp4` makes of the new release
# (evaluate.py --weights nvfp4, greedy only), in parallel with the FP8 evaluation, into
# eval_nvfp4.json.  EVAL_PASSES, CACHE_GB and CHECK_PROMPTS go to evaluate.py (--passes,
# --cache-gb, --check-prompts with its generate() comparison capped at CHECK_CAP new tokens).
#
# Needs python3 with torch, transformers (DeepseekV3ForCausalLM), tokenizers and safetensors,
# and the tokenizer files already in models/tiny-r1 (tools/tiny_r1/build_tokenizer.py).
# Results land in $OUT as soon as each stage ends, so a run cut short still leaves the stages
# it finished: model.safetensors, config.json, generation_config.json (the release),
# train_log.json, eval.json and pipeline.log (and baseline_eval.json, baseline_eval.log).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:?set OUT to a results folder}
TRAIN_SECONDS=${TRAIN_SECONDS:-300}
EVAL_SECONDS=${EVAL_SECONDS:-220}
SEED=${SEED:-1234}
STEPS=${STEPS:-0}
LR=${LR:-2e-3}
WARMUP=${WARMUP:-150}
MIXTURE=${MIXTURE:-phase1}
MAX_LEN=${MAX_LEN:-768}
WORKERS=${WORKERS:-14}
INIT_FROM=${INIT_FROM:-}
EVAL_SEED=${EVAL_SEED:-20261129}
EVAL_PER_FAMILY=${EVAL_PER_FAMILY:-1000}
EVAL_FAMILIES=${EVAL_FAMILIES:-add,sub,mul,linear,quadratic,gcd_lcm,fibonacci,series,percent,choice}
BASELINE=${BASELINE:-}
BASELINE_SECONDS=${BASELINE_SECONDS:-300}
QAT_START=${QAT_START:-1.0}
QAT_EVERY=${QAT_EVERY:-2}
EVAL_NVFP4=${EVAL_NVFP4:-0}
EVAL_PASSES=${EVAL_PASSES:-}
CACHE_GB=${CACHE_GB:-40}
CHECK_PROMPTS=${CHECK_PROMPTS:-0}
CHECK_CAP=${CHECK_CAP:-160}
EVAL_CAP=${EVAL_CAP:-0}
TOKENS_PER_BATCH=${TOKENS_PER_BATCH:-65536}
WORK=$(mktemp -d)
export PYTHONUNBUFFERED=1
export PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True}
mkdir -p "$OUT"
exec > >(tee "$OUT/pipeline.log") 2>&1

eval_args=(--seed "$EVAL_SEED" --per-family "$EVAL_PER_FAMILY" --batch "$EVAL_PER_FAMILY" --families "$EVAL_FAMILIES"
           --passes "$EVAL_PASSES" --cache-gb "$CACHE_GB" --max-new-cap "$EVAL_CAP")
BASELINE_PID=
if [ -n "$BASELINE" ]; then
  echo "== $(date -u +%FT%TZ) evaluate baseline $BASELINE in the background (deadline $BASELINE_SECONDS s)"
  python3 tools/tiny_r1/evaluate.py --release "$BASELINE" --out "$OUT/baseline_eval.json" "${eval_args[@]}" \
    --deadline-s "$BASELINE_SECONDS" >"$OUT/baseline_eval.log" 2>&1 &
  BASELINE_PID=$!
fi

echo "== $(date -u +%FT%TZ) train (seed $SEED, mixture $MIXTURE, steps $STEPS or $TRAIN_SECONDS s, from ${INIT_FROM:-scratch})"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")'
python3 tools/tiny_r1/train.py --tokenizer models/tiny-r1/tokenizer.json --out "$WORK/run" \
  --seed "$SEED" --time-budget "$TRAIN_SECONDS" --steps "$STEPS" --lr "$LR" --warmup "$WARMUP" \
  --mixture "$MIXTURE" --max-len "$MAX_LEN" ${INIT_FROM:+--init-from "$INIT_FROM"} --workers "$WORKERS" \
  --qat-start "$QAT_START" --qat-every "$QAT_EVERY" --tokens-per-batch "$TOKENS_PER_BATCH"
cp "$WORK/run/train_log.json" "$OUT/"

echo "== $(date -u +%FT%TZ) export FP8"
mkdir -p "$WORK/release"
cp models/tiny-r1/tokenizer.json models/tiny-r1/tokenizer_config.json "$WORK/release/"
python3 tools/tiny_r1/export_fp8.py --state "$WORK/run/trained_state.pt" --out "$WORK/release"
cp "$WORK/release/model.safetensors" "$WORK/release/config.json" "$WORK/release/generation_config.json" "$OUT/"

echo "== $(date -u +%FT%TZ) evaluate (seed $EVAL_SEED, $EVAL_PER_FAMILY per family, deadline $EVAL_SECONDS s)"
NVFP4_PID=
if [ "$EVAL_NVFP4" = 1 ]; then
  python3 tools/tiny_r1/evaluate.py --release "$WORK/release" --out "$OUT/eval_nvfp4.json" "${eval_args[@]}" \
    --weights nvfp4 --greedy-only --deadline-s "$EVAL_SECONDS" >"$WORK/eval_nvfp4.log" 2>&1 &
  NVFP4_PID=$!
fi
check_args=()
if [ "$CHECK_PROMPTS" != 0 ]; then
  check_args=(--check-prompts "$CHECK_PROMPTS" --check-cap "$CHECK_CAP")
fi
fp8_status=0
python3 tools/tiny_r1/evaluate.py --release "$WORK/release" --out "$OUT/eval.json" "${eval_args[@]}" \
  "${check_args[@]}" --deadline-s "$EVAL_SECONDS" || fp8_status=$?
if [ -n "$NVFP4_PID" ]; then
  wait "$NVFP4_PID" || echo "NVFP4 evaluation failed"
  echo "== $(date -u +%FT%TZ) NVFP4 evaluation log"
  cat "$WORK/eval_nvfp4.log"
fi
if [ -n "$BASELINE_PID" ]; then
  wait "$BASELINE_PID" || echo "baseline evaluation failed: see baseline_eval.log"
  echo "== $(date -u +%FT%TZ) baseline"
  tail -n 2 "$OUT/baseline_eval.log"
fi
echo "== $(date -u +%FT%TZ) done (FP8 evaluation status $fp8_status)"
