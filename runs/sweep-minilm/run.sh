#!/usr/bin/env bash
# The learning-rate sweep behind the methods' defaults (03b_methods): MiniLM-L6, the seed preset's 1,250 training
# texts, scored on 500 held-out *training* texts (--validation 500), never on the test split. One folder per level.
# Resumable: a finished method's record is reused, an interrupted one resumes from its checkpoint.
set -e
cd "$(dirname "$0")/../.."
M=${MODEL:-../shared/models/minilm-l6}; D=${DATA:-../shared/data/ag_news}
run() { .venv/bin/lightweight-ft compare --model $M --data $D --preset seed --validation 500 --save-steps 100 \
          --methods ia3,prompt,ln,bitfit --out runs/sweep-minilm/$1 --lrs $2; }
run mid  ia3=3e-3,prompt=3e-2,ln=1e-3,bitfit=1e-3
run low  ia3=1e-3,prompt=1e-2,ln=3e-4,bitfit=3e-4
run high ia3=1e-2,prompt=1e-1,ln=3e-3,bitfit=3e-3
