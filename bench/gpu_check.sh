#!/bin/bash
# Issue 18's GPU measurements as ONE prepared call of the `device` tool (a lent H100/H200, no internet). Each stage runs
# under its own time limit, so a slow one loses only itself; the results file says which stage wrote what. Python
# prints its stack on a crash (PYTHONFAULTHANDLER): on the first H200 calls, code compiled for CUDA graphs with dynamic
# shapes died of a segmentation fault (the package has compiled such code with static shapes since).
#   0. smoke:         bench/compile_smoke.py: torch.compile on plain PyTorch (a pointwise function, an MLP's forward and
#                     backward, with and without CUDA graphs), so a broken compiler is told apart from the package's code
#   1. compiled == eager: bench/compile_check.py once per torch.compile mode of MODES (default "reduce-overhead default":
#                     CUDA graphs, then without them), each on tiny GPT-2, tiny Llama and MiniLM's shape with random
#                     weights (its weights would not fit what a call carries); LoRA trained and evaluated both ways.
#                     The compiled stages use the first mode that passed (or COMPILE_MODE), and are skipped if none did
#   2. eager call:    bench/run.py at batch 256: the reference, LoRA vs full fine-tuning, MFU, the base / unmerged / merged
#                     evaluation rows, and the whole seed comparison at the package's default settings (the device's
#                     batch size, merged evaluation), then with merged evaluation off
#   3. compiled call: bench/run.py: LoRA and full fine-tuning, each block compiled (compiling included) beside the eager
#                     rows of the same call
#   4. compiled-seed: bench/run.py: the whole seed comparison with compile on (its own call, so slow compiled rows
#                     cannot starve it)
#   5. bench/join_calls.py: one file, every ratio from the single call that measured both of its rows
# Here, first:   make gpu-check-assets   (.gpucheck/: GPT-2 tokenizer, MiniLM without its weights, AG News CSVs and the
#                wheels the GPU image lacks; the image's own torch and transformers are used)
# Then the device tool's run with   command="bash bench/gpu_check.sh"   carry=[".gpucheck"]   timeout_s=600
# Back under $OUT: gpu-check.json (commit it in bench/results/speed/, beside the H200 calls' h200*.json), and stages.tgz:
# the stages' files and logs, and the console's output (console.log).
#   bash bench/gpu_check.sh --dry-run     every stage on a 2-layer GPT-2 and a few texts, on any machine (CPU included,
#                                          where it takes a quarter of an hour or more): checks the script, measures nothing
# Stage limits in seconds: T_SMOKE, T_CHECK (per mode), T_EAGER, T_COMPILED, T_COMPILED_SEED (defaults 60, 75, 110, 150,
# 110: with the setup, about 10 minutes). STAGES (default "smoke check eager compiled compiled-seed") runs some stages
# alone, CHECK_MODELS names the check's models, COMPILE_MODE skips the choice of mode. A session that has the eager
# stage's results (bench/results/speed/h200.json) can leave it out and give the compiled ones more:
#   STAGES='compiled compiled-seed' COMPILE_MODE=reduce-overhead bash bench/gpu_check.sh
set -o pipefail
DRY=0; [ "$1" = "--dry-run" ] && DRY=1
OUT=${OUT:-/tmp/gpu-check-out}; mkdir -p "$OUT"
exec > >(tee "$OUT/console.log") 2>&1          # bash's own lines too (a stage's crash), which no stage log holds
A=${ASSETS:-.gpucheck}
if [ -d "$A/whl" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$A"/whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}; fi
[ -d "$A/shared" ] && export LWFT_SHARED=$PWD/$A/shared         # else the shared/ folder beside the checkout
export PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
PY=${PY:-python3}
$PY -c 'import torch, transformers, peft, datasets, lightweight_ft.compare as c; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "policy", c.device_policy())' \
  | tee "$OUT/versions.txt" || exit 1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
name=$($PY -c "import torch; n = torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'; print(next((k.lower() for k in ('H200', 'H100', 'A100', 'L4') if k in n), 'gpu' if n != 'cpu' else 'cpu'))")
quiet() { grep -v -E 'it/s]|warnings.warn|Online softmax|split the reduction|important use case|online softmax|^$'; }
if [ $DRY = 1 ]; then
  check="--models tiny-gpt2 tiny-llama --texts 16"; common="--tiny --sweep-batch 2 --sweep-len 32"; seed="--seed-comparison-batch 4"
  MODES=${MODES:-default}                                                             # a CPU records no CUDA graphs
  : ${T_CHECK:=1200} ${T_EAGER:=1200} ${T_COMPILED:=1800} ${T_COMPILED_SEED:=1200}   # compiling on a busy CPU is slow
else
  check="--models ${CHECK_MODELS:-tiny-gpt2 tiny-llama minilm-shape} --texts 64"; common="--batch-size 256 --eval-batch-size 256 --big-batch 256"; seed=""
  MODES=${MODES:-reduce-overhead default}
fi
STAGES=${STAGES:-smoke check eager compiled compiled-seed}
[[ " $STAGES " == *" smoke "* ]] && timeout ${T_SMOKE:-60} $PY bench/compile_smoke.py --out "$OUT/compile-smoke.json" 2>&1 \
    | quiet | tee "$OUT/compile-smoke.log"
checks=()
if [[ " $STAGES " == *" check "* ]]; then
  for m in $MODES; do
    checks+=("$OUT/compile-check-$m.json")
    timeout ${T_CHECK:-75} $PY bench/compile_check.py --compile-mode $m --out "$OUT/compile-check-$m.json" $check 2>&1 \
      | quiet | tee "$OUT/compile-check-$m.log"
  done
fi
passed() { $PY -c "import json, sys; c = json.load(open(sys.argv[1]))['checks']; sys.exit(not (c and all(x.get('within_tolerance') for x in c)))" "$1" 2>/dev/null; }
if [ -z "$COMPILE_MODE" ]; then
  for m in $MODES; do passed "$OUT/compile-check-$m.json" && { COMPILE_MODE=$m; break; }; done
fi
echo "compile mode of the compiled stages: ${COMPILE_MODE:-none passed its check: the compiled stages are skipped}" | tee "$OUT/mode.txt"
[[ " $STAGES " == *" eager "* ]] && timeout ${T_EAGER:-110} $PY bench/run.py --out "$OUT/$name-eager.json" $common --only reference default \
    --seed-comparison $seed --seed-comparison-variants default unmerged 2>&1 | quiet | tee "$OUT/$name-eager.log"
[[ " $STAGES " == *" compiled "* && -n "$COMPILE_MODE" ]] && timeout ${T_COMPILED:-150} $PY bench/run.py --out "$OUT/$name-compiled.json" \
    $common --only default compiled --compile --compile-mode $COMPILE_MODE 2>&1 | quiet | tee "$OUT/$name-compiled.log"
[[ " $STAGES " == *" compiled-seed "* && -n "$COMPILE_MODE" ]] && timeout ${T_COMPILED_SEED:-110} $PY bench/run.py \
    --out "$OUT/$name-compiled-seed.json" $common --only none --seed-comparison $seed --seed-comparison-variants compiled \
    --compile-mode $COMPILE_MODE 2>&1 | quiet | tee "$OUT/$name-compiled-seed.log"
$PY bench/join_calls.py --out "$OUT/gpu-check.json" eager="$OUT/$name-eager.json" compiled="$OUT/$name-compiled.json" \
    compiled-seed="$OUT/$name-compiled-seed.json" --check "${checks[@]}" --smoke "$OUT/compile-smoke.json"
# The device tool brings back 8 files: gpu-check.json, and every other file in stages.tgz
(cd "$OUT" && tar czf /tmp/stages.tgz --exclude gpu-check.json . && find . -mindepth 1 ! -name gpu-check.json -delete \
  && mv /tmp/stages.tgz .)
