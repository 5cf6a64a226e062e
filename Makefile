# Two commands do everything:  `make run` (install + the main comparison)  and  `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Local copies of the hub files (model + AG News), if this machine has them; else the hub ids.
SHARED ?= $(firstword $(wildcard ../shared) $(wildcard shared))
MODEL  ?= $(if $(SHARED),$(SHARED)/models/smollm2-135m,gpt2)
DATA   ?= $(if $(SHARED),$(SHARED)/data/ag_news,ag_news)
PRESET ?= seed
OUT    ?= runs/$(if $(SHARED),smollm2,gpt2)-$(PRESET)

.PHONY: install run test export clean-nbs readme docs docs-check bench
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]' -c constraints.txt
	touch $@

run: install
	$(VENV)/bin/lightweight-ft compare --model $(MODEL) --data $(DATA) --preset $(PRESET) --out $(OUT)

test: install
	$(PY) -m pytest tests -q -rA

export: install
	$(VENV)/bin/nbdev-export

readme: install
	$(PY) tools/make_readme.py

clean-nbs: install
	$(VENV)/bin/nbdev-clean

docs: install
	$(PY) tools/docs/build.py

docs-check: docs
	$(PY) tools/docs/check.py

bench: install
	$(PY) bench/run.py --out bench/results/cpu-2core.json
