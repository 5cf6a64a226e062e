# Two commands do everything:  `make run` (install + the main comparison)  and  `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Local copies of the hub files (model + AG News), if this machine has them; else the hub ids.
SHARED ?= $(firstword $(wildcard ../shared) $(wildcard shared))
MODEL  ?= $(if $(SHARED),$(SHARED)/models/smollm2-135m,gpt2)
DATA   ?= $(if $(SHARED),$(SHARED)/data/ag_news,ag_news)
PRESET ?= seed
# git-ignored: a first run never touches the committed runs
OUT    ?= runs/first-run
# Headlines `make run` classifies at the end (JSON Lines with a "text" field, or plain text, one per line); ARGS: more compare flags
HEADLINES ?= $(firstword $(wildcard $(SHARED)/data/seed_headlines.jsonl) examples/headlines.txt)
ARGS   ?=

.PHONY: install run test export clean-nbs readme docs docs-check bench gpu-assets gpu-check-assets outputs
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]' -c constraints.txt
	touch $@

run: install
	$(VENV)/bin/lightweight-ft compare --model $(MODEL) --data $(DATA) --preset $(PRESET) --out $(OUT) $(ARGS)
	@echo; echo "The adapter in $(OUT)/lora on the headlines in $(HEADLINES):"
	@$(PY) -c "import json, sys; [print(json.loads(l)['text'] if l.lstrip().startswith('{') else l.strip()) for l in open(sys.argv[1]) if l.strip()]" \
	  $(HEADLINES) | tr '\n' '\0' | xargs -0 $(VENV)/bin/lightweight-ft predict --adapter $(OUT)/lora
	@echo; echo "Classify your own:  $(VENV)/bin/lightweight-ft predict --adapter $(OUT)/lora 'Your headline here'"
	@echo "The report:         $(OUT)/results.md"

test: install
	$(PY) -m pytest tests -q -rA

export: install
	$(VENV)/bin/nbdev-export

readme: install
	$(PY) tools/make_readme.py

clean-nbs: install
	$(VENV)/bin/nbdev-clean

# Re-execute notebooks in place for fresh committed outputs (NBS=...; SLOW=--slow runs the real-model cells too)
NBS ?= nbs/[0-9]*.ipynb nbs/index.ipynb
outputs: install
	$(PY) tools/run_notebooks.py $(SLOW) $(NBS)

docs: install
	$(PY) tools/docs/build.py

docs-check: docs
	$(PY) tools/docs/check.py

bench: install
	$(PY) bench/run.py --out bench/results/cpu-2core.json

# What bench/gpu.sh needs on a lent GPU machine that has no internet: local copies of the GPT-2 tokenizer and
# AG News, and wheels of the packages its image lacks (or has in other versions). Carry `.device` (git-ignored).
GPU_WHEELS := datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 fastcore==2.2.41 transformers==5.24.0 peft==0.21.2 regex==2026.11.19
gpu-assets:
	rm -rf .device && mkdir -p .device/shared/models .device/shared/data .device/whl
	cp -r $(SHARED)/models/gpt2-tokenizer .device/shared/models/
	cp -r $(SHARED)/data/ag_news .device/shared/data/
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .device/whl $(GPU_WHEELS)
	du -sh .device

# What bench/gpu_check.sh needs on a lent GPU machine (issue 18's checks): the GPT-2 tokenizer, MiniLM, the AG News CSVs
# and the wheels its image lacks. The image's own transformers is used: with its wheel the call would carry over 64 MiB.
CHECK_WHEELS := datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 fastcore==2.2.41 peft==0.21.2
gpu-check-assets:
	rm -rf .gpucheck && mkdir -p .gpucheck/shared/models .gpucheck/shared/data .gpucheck/whl
	cp -r $(SHARED)/models/gpt2-tokenizer $(SHARED)/models/minilm-l6 .gpucheck/shared/models/
	rm -f .gpucheck/shared/models/minilm-l6/model.safetensors   # the check builds MiniLM's shape: 45 MB would not fit a call
	cp -r $(SHARED)/data/ag_news .gpucheck/shared/data/
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpucheck/whl $(CHECK_WHEELS)
	du -sh .gpucheck
