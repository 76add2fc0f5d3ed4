# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
SS     := $(BIN)/superstore

.PHONY: install system-deps browser-deps demo serve test test-faults test-failover bench bench-ingest bench-export bench-etl bench-peers bench-dashboard bench-freshness screenshots lint fmt down clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

system-deps:  ## Java 17+, Maven, npm (apt-get when missing)
	@bash scripts/system-deps.sh

browser-deps:  ## Chromium for the dashboard browser tests (apt-get when missing)
	@bash scripts/system-deps.sh --browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,spark]'
	rm -f $(VENV)/.installed-* && touch $@

install: system-deps $(STAMP)  ## create .venv and install the package with test tools

demo: install  ## the whole pipeline on embedded defaults: history through every layer, then live
	$(SS) stack up
	$(SS) data fetch
	$(SS) produce --replay
	$(SS) topic stats --expect-dataset
	$(SS) ingest --until-idle 3
	$(SS) export --all
	$(SS) export --verify --all
	$(SS) etl --all
	$(SS) check --until 2017-12-31
	@echo
	@echo "history is in every layer and reconciled. Now running live until Ctrl-C:"
	@echo "  /today?date=2017-12-30 shows replayed history; '$(SS) produce --live --rate 20' in another shell moves /today"
	$(SS) run --every 60

serve: install  ## serve the dashboards (/today live, /analytics) until Ctrl-C
	@echo "replayed history: /today?date=2017-12-30. Live: run '$(SS) ingest' and '$(SS) produce --live --rate 20' in other shells"
	$(SS) serve

test: install browser-deps  ## lint, then the default test suite against a real Kafka + PostgreSQL
	$(BIN)/ruff check src tests bench orchestration
	$(BIN)/ruff format --check src tests bench orchestration
	$(BIN)/python -m pytest

test-faults: install  ## fault-injection suite of issue 4 (kill -9, broker/PostgreSQL restarts, DLQ)
	$(BIN)/python -m pytest -m faults -v

test-failover: install  ## losing a machine: kill/stop/pause Kafka nodes of a 3-node cluster, PostgreSQL standby failover
	$(BIN)/python -m pytest -m failover -v --durations=0

bench: install  ## every issue 4 + 9 benchmark in sequence (< 45 min on 2 cores) -> docs/benchmarks/README.md
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install -q -e '.[dev,spark,bench]'
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

bench-ingest: install  ## 1M lines Kafka -> PostgreSQL vs raw COPY ceiling and a naive consumer
	cd bench && ../$(BIN)/python ingest.py

bench-export: install  ## one 1M-line day PostgreSQL -> lake (CSV + Parquet) vs a psql \copy ceiling
	cd bench && ../$(BIN)/python export.py

bench-etl: install  ## 1M and 10M-line lakes -> star schema: DuckDB vs Spark local[*] vs a standalone cluster; 10k increment
	cd bench && ../$(BIN)/python etl.py

bench-dashboard: install  ## analytics API p50/p95 at 10M facts vs the same queries on PostgreSQL OLTP
	cd bench && ../$(BIN)/python dashboard.py

bench-freshness: install  ## produce -> /today API freshness p50/p99 at 1k lines/s
	cd bench && ../$(BIN)/python freshness.py

screenshots: install browser-deps  ## refresh docs/today.png and docs/analytics.png from a real browser
	DASHBOARD_SCREENSHOTS=docs $(BIN)/python -m pytest tests/web/test_dashboards_screenshots.py -q

bench-peers: install  ## ingest vs Kafka Connect (Debezium JDBC), Spark streaming, naive; kill -9; scale-out
	cd bench && ../$(BIN)/python ingest_peers.py

lint: install
	$(BIN)/ruff check src tests bench orchestration

fmt: install
	$(BIN)/ruff format src tests bench orchestration
	$(BIN)/ruff check --fix src tests bench orchestration

down:  ## stop the local stack
	$(SS) stack down

clean: down  ## stop the stack and delete local data (keeps the jar cache)
	$(SS) stack down --purge
