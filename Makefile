# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
SS     := $(BIN)/superstore

.PHONY: install system-deps demo test test-slow bench-ingest lint fmt down clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

system-deps:  ## Java 17+, Maven, npm (apt-get when missing)
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: system-deps $(STAMP)  ## create .venv and install the package with test tools

demo: install  ## start the stack, fetch the data set, stream it through Kafka, verify
	$(SS) stack up
	$(SS) data fetch
	$(SS) produce --replay
	$(SS) topic stats --expect-dataset
	$(SS) ingest --until-idle 3
	@echo
	$(SS) stack status
	@echo "stack is still running: '$(SS) stack env' prints its settings, 'make down' stops it"

test: install  ## lint, then the default test suite against a real Kafka + PostgreSQL
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/python -m pytest

test-slow: install  ## long fault-injection suites
	$(BIN)/python -m pytest -m slow

bench-ingest: install  ## 1M lines Kafka -> PostgreSQL vs raw COPY ceiling and a naive consumer
	cd bench && ../$(BIN)/python ingest.py

lint: install
	$(BIN)/ruff check src tests bench

fmt: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

down:  ## stop the local stack
	$(SS) stack down

clean: down  ## stop the stack and delete local data (keeps the jar cache)
	$(SS) stack down --purge
