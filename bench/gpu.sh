#!/bin/bash
# The GPU benchmark as ONE prepared call of the `device` tool (a lent H100/H200 with no internet), in two bench/run.py
# calls so each stays well inside the call's limit: the headline configurations with the whole seed comparison, the
# profiles (first, so a timeout cannot lose them) and the cold-shape epochs (fresh processes), then the
# extras (GELU as published, peft's adapter input cast, dropout placement, big-batch memory, gradient checkpointing, Trainer path, sweeps,
# torch.compile last: it has never finished inside the call's time, and a timed-out call keeps the rows before it).
# bench/combine.py joins them; every ratio is still computed inside one of the two.
# Here, first:   make gpu-assets      (copies the GPT-2 tokenizer + AG News CSVs and the few missing wheels into .device/)
# Then call the device tool's `run` with   command="bash bench/gpu.sh"   carry=[".device"]   timeout_s=560
# The results come back under $OUT: <gpu>.json (commit it as bench/results/<gpu>.json), the two calls' files, logs and a profile.
set -o pipefail
OUT=${OUT:-/tmp/bench-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/whl/*.whl
export PYTHONPATH=/tmp/site:$PWD LWFT_SHARED=$PWD/.device/shared PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
check='import transformers, peft, datasets, lightweight_ft.compare; print("transformers", transformers.__version__, "peft", peft.__version__, "datasets", datasets.__version__)'
python3 -c "$check" || { echo "carried transformers failed to import: using the image's own"; rm -rf /tmp/site/transformers* /tmp/site/regex*; python3 -c "$check"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
name=$(python3 -c "import torch; n = torch.cuda.get_device_name(); print(next((k.lower() for k in ('H200', 'H100', 'A100', 'L4') if k in n), 'gpu'))")
quiet() { grep -v -E 'it/s]|warnings.warn|Online softmax|split the reduction|important use case|online softmax|^$'; }
common="--batch-size 256 --eval-batch-size 256 --big-batch 256"
timeout 270 python3 bench/run.py --out "$OUT/$name-headline.json" $common --only reference default 'memory bs8' 'fp32 backbone' 'pytorch attention' 'cold shapes' \
    --seed-comparison --seed-comparison-batch 8 32 --profile "$OUT/$name-profile.txt" 2>&1 | quiet | tee "$OUT/$name-headline.log"
timeout 240 python3 bench/run.py --out "$OUT/$name-extras.json" $common --only 'python gelu' 'peft input cast' 'peft dropout' 'head through backbone' \
    'package Trainer' 'memory big batch' sweep compiled --sweep-batch 8 32 128 512 1024 --sweep-len 64 256 1024 --sweep-len-batch 32 \
    --compile 2>&1 | quiet | tee "$OUT/$name-extras.log"
extras="$OUT/$name-extras.json"; [ -f "$extras" ] || extras="$OUT/$name-extras.rows0.json"    # a timed-out call leaves its rows
python3 bench/combine.py "$OUT/$name-headline.json" "$extras" --out "$OUT/$name.json"
