# Set-up and checks. `make demo` and `make test` each create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench fuzz clean compile

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

# The scanner compiled with mypyc, each module next to its source (the import system prefers the
# extension module): scans run about 2x faster (docs/benchmarks.md). Built where the dev tools are
# (mypy brings mypyc); everywhere else the pure-Python modules run, with the same results (a test
# checks both agree). keras_scan and gguf_scan stay Python: their tests swap functions in them.
# Rebuilt whenever a source changes; a stale or partial build never runs (the package then falls
# back to the sources, with a warning).
COMPILED_MODULES := allowlist findings joblib_format limits npy onnx_scan pickle_scan \
  safetensors_scan scan sniff tarread torch_legacy torch_zip walk zipread
COMPILED_SCANNER := src/signoff/scanner/compiled-modules.txt
$(COMPILED_SCANNER): $(COMPILED_MODULES:%=src/signoff/scanner/%.py) $(VENV)/.installed-dev
	rm -f src/*__mypyc.*.so src/signoff/scanner/*.so $@
	cd src && ../$(BIN)/mypyc $(COMPILED_MODULES:%=signoff/scanner/%.py) \
	  > ../$(VENV)/mypyc.log 2>&1 || { cat ../$(VENV)/mypyc.log; exit 1; }
	rm -rf src/build src/.mypy_cache
	printf '%s\n' $(COMPILED_MODULES) > $@

compile:  # always rebuilds (after a partial or stale build, say)
	rm -f $(COMPILED_SCANNER)
	$(MAKE) $(COMPILED_SCANNER)

demo: $(VENV)/.installed-base
	$(BIN)/signoff demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/ruff format --check src tests bench fuzz
	$(BIN)/mypy

test: lint $(COMPILED_SCANNER)
	$(BIN)/pytest -n 2
	SIGNOFF_PURE_PYTHON=1 $(BIN)/pytest -n 2 -q tests/unit/scanner  # and the pure-Python scanner

bench: $(VENV)/.installed-bench $(COMPILED_SCANNER)
	$(BIN)/python bench/digest.py
	$(BIN)/python bench/merkle.py
	$(BIN)/python bench/policy.py
	$(BIN)/python bench/governance.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/scan.py

# A longer coverage-guided fuzzing session of the scanner (the test suite runs a short one).
# It fuzzes the pure-Python modules: atheris is guided by the coverage of Python bytecode.
fuzz: $(VENV)/.installed-dev
	$(BIN)/python fuzz/scan_fuzz.py -runs=200000 -max_len=65536 -timeout=30

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache src/*__mypyc.*.so src/signoff/scanner/*.so \
	  $(COMPILED_SCANNER)
