# `make demo` and `make test` are the two set-up commands: each builds .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck docs bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev,mpi]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/digits.py

# One BLAS thread: the suite's matrices are small, and threads only contend with each other.
test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples docs

# mypy over examples/ (settings in pyproject.toml), as a user's code sees layerwise's type hints.
typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site (docs/, mkdocs.yml) into site/, in strict mode: a broken reference, a
# griffe warning or a public name without a docstring (docs/hooks.py) fails the build.
docs: $(STAMP)
	$(BIN)/pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build dist site src/*.egg-info
