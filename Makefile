# Every install step lives here so a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run run-paper run-live-local test lint bench clean

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

## The console on the Polymarket venue, against the local Polymarket-protocol exchange (sim-exchange on
## loopback, replaying the bundled books as live markets at 10x): paper trading, nothing is sent.
EXCHANGE_PORT ?= 8790
EXCHANGE := http://127.0.0.1:$(EXCHANGE_PORT)
define with_exchange
	@$(BIN)/bigearn-tui sim-exchange --port $(EXCHANGE_PORT) --speed 10 > .sim-exchange.log 2>&1 & pid=$$!; \
	trap "kill $$pid 2>/dev/null" EXIT INT TERM; \
	for i in $$(seq 100); do curl -sf $(EXCHANGE)/ok >/dev/null && break; sleep 0.1; done; \
	$(1)
endef
run-paper: $(STAMP)
	$(call with_exchange,$(BIN)/bigearn-tui --venue polymarket --exchange $(EXCHANGE) $(PAPER_ARGS))

## The same console armed for LIVE orders, still only against the local exchange, with a well-known throwaway
## test key (hardhat #0) as an EOA signer. It asks you to type LIVE before the first order.
run-live-local: $(STAMP)
	$(call with_exchange,BIGEARN_PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 BIGEARN_VENUE__SIGNATURE_TYPE=0 $(BIN)/bigearn-tui --venue polymarket --live --exchange $(EXCHANGE) $(PAPER_ARGS))

## Run the whole suite.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check engine widgets bigearn_tui localexchange tests bench tools

bench: $(STAMP)
	$(BIN)/python bench/book.py
	$(BIN)/python bench/replay.py

clean:
	rm -rf $(VENV) .pytest_cache
