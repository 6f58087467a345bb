# Set-up and checks. `make demo` and `make test` each create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# One stamp per set of extras, remade whenever pyproject.toml changes.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $@ $(VENV)/.installed-base

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres,bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/signoff demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/ruff format --check src tests bench fuzz
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/merkle.py
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/governance.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/scan.py

# A longer coverage-guided fuzzing session of the scanner (the test suite runs a short one).
fuzz: $(VENV)/.installed-dev
	$(BIN)/python fuzz/scan_fuzz.py -runs=200000 -max_len=65536 -timeout=30

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
