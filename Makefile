# Two commands on a fresh machine:
#   make demo   installs tlstrunk in .venv and runs the two-cluster demo
#   make test   installs tlstrunk with its test tools and runs the whole test suite
# Both need only python3 (3.11 or newer) with venv and pip.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tlstrunk demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) tlstrunk-demo .pytest_cache .mypy_cache .ruff_cache
