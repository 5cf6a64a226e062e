#!/bin/bash
# Issue 18's GPU measurements as ONE prepared call of the `device` tool (a lent H100/H200, no internet). Each stage runs
# under its own time limit, so a slow one loses only itself; the results file says which stage wrote what.
#   1. compiled == eager: bench/compile_check.py (tiny GPT-2, tiny Llama, MiniLM's shape with random weights, as its
#                     weights would not fit what a call carries; LoRA trained and evaluated both ways)
#   2. eager call:    bench/run.py at batch 256: the reference, LoRA vs full fine-tuning, MFU, the base / unmerged / merged
#                     evaluation rows, and the whole seed comparison at the package's default settings (the device's
#                     batch size, merged evaluation), then with merged evaluation off
#   3. compiled call: bench/run.py: LoRA and full fine-tuning, each block compiled (CUDA graphs, compiling included)
#                     beside the eager rows of the same call
#   4. compiled-seed: bench/run.py: the whole seed comparison with compile on (its own call, so slow compiled rows
#                     cannot starve it)
#   5. bench/join_calls.py: one file, every ratio from the single call that measured both of its rows
# Here, first:   make gpu-check-assets   (.gpucheck/: GPT-2 tokenizer, MiniLM without its weights, AG News CSVs and the wheels the GPU image
#                lacks; the image's own transformers is used, as it fits the 64 MiB a call may carry)
# Then the device tool's run with   command="bash bench/gpu_check.sh"   carry=[".gpucheck"]   timeout_s=560
# Back under $OUT: gpu-check.json (commit it as bench/results/speed/<gpu>.json), the stages' files and logs.
#   bash bench/gpu_check.sh --dry-run     every stage on a 2-layer GPT-2 and a few texts, on any machine (CPU included,
#                                          where it takes a quarter of an hour or more): checks the script, measures nothing
# Stage limits in seconds, T_CHECK, T_EAGER, T_COMPILED, T_COMPILED_SEED (defaults 90, 120, 150, 120: with the setup,
# about 8 minutes), and STAGES (default "check eager compiled compiled-seed") to run some stages alone: a session's 15
# device minutes hold one whole call, or two calls of half the stages each.
set -o pipefail
DRY=0; [ "$1" = "--dry-run" ] && DRY=1
OUT=${OUT:-/tmp/gpu-check-out}; mkdir -p "$OUT"
A=${ASSETS:-.gpucheck}
if [ -d "$A/whl" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$A"/whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}; fi
[ -d "$A/shared" ] && export LWFT_SHARED=$PWD/$A/shared         # else the shared/ folder beside the checkout
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
PY=${PY:-python3}
$PY -c 'import torch, transformers, peft, datasets, lightweight_ft.compare as c; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "policy", c.device_policy())' \
  | tee "$OUT/versions.txt" || exit 1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
name=$($PY -c "import torch; n = torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'; print(next((k.lower() for k in ('H200', 'H100', 'A100', 'L4') if k in n), 'gpu' if n != 'cpu' else 'cpu'))")
quiet() { grep -v -E 'it/s]|warnings.warn|Online softmax|split the reduction|important use case|online softmax|^$'; }
if [ $DRY = 1 ]; then
  check="--models tiny-gpt2 tiny-llama --texts 16"; common="--tiny --sweep-batch 2 --sweep-len 32"; seed="--seed-comparison-batch 4"
  : ${T_CHECK:=1200} ${T_EAGER:=1200} ${T_COMPILED:=1800} ${T_COMPILED_SEED:=1200}   # compiling on a busy CPU is slow
else
  check="--models tiny-gpt2 tiny-llama minilm-shape --texts 64"; common="--batch-size 256 --eval-batch-size 256 --big-batch 256"; seed=""
fi
STAGES=${STAGES:-check eager compiled compiled-seed}
[[ " $STAGES " == *" check "* ]] && timeout ${T_CHECK:-90} $PY bench/compile_check.py --out "$OUT/compile-check.json" $check 2>&1 \
    | quiet | tee "$OUT/compile-check.log"
[[ " $STAGES " == *" eager "* ]] && timeout ${T_EAGER:-120} $PY bench/run.py --out "$OUT/$name-eager.json" $common --only reference default \
    --seed-comparison $seed --seed-comparison-variants default unmerged 2>&1 | quiet | tee "$OUT/$name-eager.log"
[[ " $STAGES " == *" compiled "* ]] && timeout ${T_COMPILED:-150} $PY bench/run.py --out "$OUT/$name-compiled.json" $common \
    --only default compiled --compile 2>&1 | quiet | tee "$OUT/$name-compiled.log"
[[ " $STAGES " == *" compiled-seed "* ]] && timeout ${T_COMPILED_SEED:-120} $PY bench/run.py --out "$OUT/$name-compiled-seed.json" $common \
    --only none --seed-comparison $seed --seed-comparison-variants compiled 2>&1 | quiet | tee "$OUT/$name-compiled-seed.log"
$PY bench/join_calls.py --out "$OUT/gpu-check.json" --check "$OUT/compile-check.json" \
    eager="$OUT/$name-eager.json" compiled="$OUT/$name-compiled.json" compiled-seed="$OUT/$name-compiled-seed.json"
