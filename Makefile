# Levier — the two set-up commands live here (see README.md).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   ?= demo-workspace
LEADS  ?= 20000

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Error: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip<27"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

## demo: generate demo data, import it into a fresh workspace and run the main job
demo: $(STAMP)
	bash scripts/demo.sh $(DEMO) $(LEADS)

## test: run the whole test suite (installs system packages the tests need)
test: $(STAMP)
	bash scripts/test-setup.sh
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

## bench: every benchmark at 1M and 10M touches (BENCH="--sizes 100M", "--only audit", "--quick")
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH)

clean-venv:
	rm -rf $(VENV)
