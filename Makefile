# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
SS     := $(BIN)/superstore
AIRFLOW_VENV  ?= .venv-airflow
AIRFLOW_REQS  := orchestration/airflow/requirements.txt
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-$(shell cat $(AIRFLOW_REQS) | sha256sum | cut -c1-12)

.PHONY: install system-deps browser-deps airflow-deps demo serve test lint-arch test-faults test-failover test-airflow bench bench-ingest bench-export bench-etl bench-peers bench-dashboard bench-freshness bench-continuous screenshots lint fmt down clean help

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

$(AIRFLOW_STAMP): $(AIRFLOW_REQS)
	bash scripts/airflow-deps.sh $(AIRFLOW_VENV) $(AIRFLOW_REQS)
	touch $@

airflow-deps: $(AIRFLOW_STAMP)  ## Airflow 3 in its own venv, .venv-airflow (exact pins: orchestration/airflow/requirements.txt)

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

test: install browser-deps lint-arch  ## lint, layers, types, then the default suite against a real Kafka + PostgreSQL
	$(BIN)/ruff check src tests bench orchestration
	$(BIN)/ruff format --check src tests bench orchestration
	$(BIN)/python -m pytest

lint-arch: install  ## the layer contract (import-linter) and the type checker (mypy) on src/
	$(BIN)/lint-imports
	$(BIN)/mypy

test-faults: install  ## fault-injection suite: kill -9, broker/PostgreSQL restarts, floods of bad messages
	$(BIN)/python -m pytest -m faults -v

test-failover: install  ## losing a machine: kill/stop/pause Kafka nodes of a 3-node cluster, PostgreSQL standby failover
	$(BIN)/python -m pytest -m failover -v --durations=0

test-airflow: install airflow-deps  ## the Airflow DAG run by a real Airflow 3 (`airflow dags test`) against the real stack
	AIRFLOW_VENV=$(AIRFLOW_VENV) $(BIN)/python -m pytest -m airflow -v

bench: install browser-deps  ## every benchmark in sequence (< 45 min on 2 cores) -> docs/benchmarks/README.md
	$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install -q -e '.[dev,spark,bench]'
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

bench-ingest: install  ## 1M lines Kafka -> PostgreSQL vs raw COPY ceiling and a naive consumer
	$(BIN)/python -m bench.ingest $(BENCH_ARGS)

bench-export: install  ## one 1M-line day PostgreSQL -> lake (CSV + Parquet) vs a psql \copy ceiling
	$(BIN)/python -m bench.export

bench-etl: install  ## 1M and 10M-line lakes -> star schema: DuckDB vs Spark local[*] vs a standalone cluster; 10k increment
	$(BIN)/python -m bench.etl

bench-dashboard: install browser-deps  ## /analytics drawn and the API at 50 clients (10M facts) vs the previous main (BENCH_PREVIOUS=checkout), and vs PostgreSQL OLTP
	$(BIN)/python -m bench.dashboard $(BENCH_ARGS)

bench-freshness: install  ## produce -> each of 200 /today viewers, p50/p99 at 1k lines/s
	$(BIN)/python -m bench.freshness $(BENCH_ARGS)

bench-continuous: install  ## run at defaults under live traffic: analytics freshness per change kind, the sync's CPU, resync of 100 days of 10M lines
	$(BIN)/python -m bench.continuous $(BENCH_ARGS)

screenshots: install browser-deps  ## refresh docs/*.png: both pages on desktop and phone, dark mode, a drill-down, a print preview
	DASHBOARD_SCREENSHOTS=docs $(BIN)/python -m pytest tests/web/test_dashboards_screenshots.py -q

bench-peers: install  ## ingest vs Kafka Connect (Debezium JDBC), Spark streaming, naive; kill -9; scale-out
	$(BIN)/python -m bench.ingest_peers

lint: install
	$(BIN)/ruff check src tests bench orchestration

fmt: install
	$(BIN)/ruff format src tests bench orchestration
	$(BIN)/ruff check --fix src tests bench orchestration

down:  ## stop the local stack
	$(SS) stack down

clean: down  ## stop the stack and delete local data (keeps the jar cache)
	$(SS) stack down --purge
