#!/bin/bash
# The GPU benchmark as ONE prepared call of the `device` tool (a lent H100/H200 with no internet).
# Here, first:   make gpu-assets      (copies the GPT-2 tokenizer + AG News CSVs and the few missing wheels into .device/)
# Then call the device tool's `run` with   command="bash bench/gpu.sh"   carry=[".device"]   timeout_s=540
# The results come back under $OUT: <gpu>.json (commit it as bench/results/<gpu>.json), the log and a profile.
set -eo pipefail
OUT=${OUT:-/tmp/bench-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .device/whl/*.whl
export PYTHONPATH=/tmp/site:$PWD LWFT_SHARED=$PWD/.device/shared PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.txt"
name=$(python3 -c "import torch; n = torch.cuda.get_device_name(); print(next((k.lower() for k in ('H200', 'H100', 'A100', 'L4') if k in n), 'gpu'))")
timeout 480 python3 bench/run.py --out "$OUT/$name.json" --batch-size 256 --eval-batch-size 512 --big-batch 256 \
    --sweep-batch 8 32 64 128 512 1024 --sweep-len 64 128 256 512 1024 --sweep-len-batch 32 \
    --compile --seed-comparison --profile "$OUT/$name-profile.txt" 2>&1 | grep -v 'it/s]' | tee "$OUT/$name.log"
