#!/usr/bin/env bash
# The learning-rate sweep behind the methods' defaults (03b_methods): MiniLM-L6, the seed preset's 1,250 training
# texts, scored on 500 held-out *training* texts (--validation 500), never on the test split. One folder per level.
# fp32 throughout (--bf16 false), as every record here was made, also on CPUs with bf16, and PyTorch's attention on
# exact batch lengths (--attention pytorch --pad-multiple 1), the CPU's defaults when the records were made.
# Resumable: a finished method's record is reused, an interrupted one resumes from its checkpoint.
set -e
cd "$(dirname "$0")/../.."
M=${MODEL:-../shared/models/minilm-l6}; D=${DATA:-../shared/data/ag_news}
run() { .venv/bin/lightweight-ft compare --model $M --data $D --preset seed --validation 500 --save-steps 100 --bf16 false \
          --attention pytorch --pad-multiple 1 --methods $1 --out runs/sweep-minilm/$2 --lrs $3; }
# LoRA+ at LoRA's rate (5e-4, B 16x faster) trained unstably in the study: its rate, and two lower ones
run loraplus loraplus-5e-4 loraplus=5e-4
run loraplus loraplus-1.5e-4 loraplus=1.5e-4
run loraplus loraplus-5e-5 loraplus=5e-5
run ia3,prompt,prefix,ln,bitfit mid  ia3=3e-3,prompt=3e-2,prefix=1e-2,ln=1e-3,bitfit=1e-3
run ia3,prompt,prefix,ln,bitfit low  ia3=1e-3,prompt=1e-2,prefix=3e-3,ln=3e-4,bitfit=3e-4
run ia3,prompt,prefix,ln,bitfit high ia3=1e-2,prompt=1e-1,prefix=3e-2,ln=3e-3,bitfit=3e-3
