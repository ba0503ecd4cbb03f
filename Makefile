# egml: set-up, run, test. Everything a fresh machine needs is installed from here.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
EXTRAS ?= bdt,onnx,slurm,bench,dev
# test processes (pytest-xdist); each gets an equal share of the cores
TEST_WORKERS ?= 2
BIN := $(VENV)/bin
STAMP := $(VENV)/.egml-installed

.PHONY: install run test lint format clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip wheel setuptools

# The pinned torch goes in first so that resolving egml never pulls a CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install "$(TORCH)"
	$(BIN)/pip install -e ".[$(EXTRAS)]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m egml task=photon_cnn

bench: $(STAMP)
	$(BIN)/python -m egml.bench --scale small

test: $(STAMP)
	$(BIN)/python -m pytest tests -q --durations=25 -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
