#!/usr/bin/env bash
# Prompt tuning's learning rate on SmolLM2-135M's own validation split: the rate swept on MiniLM (3e-2, sweep-minilm)
# made SmolLM2's training loss climb from 1.3 to 4.7 in the study (04b_study). The seed preset's 1,250 training texts,
# scored on 500 held-out *training* texts (--validation 500), never on the test split; settings pinned as in the
# SmolLM2 study (fp32, PyTorch attention, exact lengths). One folder per rate; resumable like every compare run.
set -e
cd "$(dirname "$0")/../.."
M=${MODEL:-../shared/models/smollm2-135m}; D=${DATA:-../shared/data/ag_news}
run() { .venv/bin/lightweight-ft compare --model $M --data $D --preset seed --validation 500 --save-steps 200 --bf16 false \
          --attention pytorch --pad-multiple 1 --methods prompt --out runs/sweep-smollm2/prompt-$1 --lrs prompt=$1; }
# 3e-2 is the rate that failed in the study; 1e-2 and 3e-3 ran first, and 3e-3 won, so the sweep went one level lower
run 1e-2
run 3e-3
run 1e-3
