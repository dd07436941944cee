# Every install step lives here so a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the console on the default venue (bundled replay, semi mode, no keys). The bundled books span
## five hours; ten times real time keeps the first look lively. Override: make run ARGS="--speed 1".
ARGS ?= --speed 10
run: $(STAMP)
	$(BIN)/bigearn-tui $(ARGS)

## Run the whole suite.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check engine widgets bigearn_tui tests bench

bench: $(STAMP)
	$(BIN)/python bench/book.py
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) .pytest_cache
