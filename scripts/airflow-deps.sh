#!/usr/bin/env bash
# Creates the Airflow venv for `make test-airflow` (default .venv-airflow) from the
# exact pins of orchestration/airflow/requirements.txt, then checks it: pip's
# dependency check, and the `airflow` CLI reports the pinned version.
# Airflow lives apart from superstore's .venv: the DAG's tasks run superstore in
# its own venv (see orchestration/airflow/superstore_dag.py).
# Usage: scripts/airflow-deps.sh VENV REQUIREMENTS  (PYTHON=python3 by default;
# PIP_NO_CACHE_DIR=1 installs as a fresh CI machine does).
set -euo pipefail

venv=${1:?usage: airflow-deps.sh VENV REQUIREMENTS}
reqs=${2:?usage: airflow-deps.sh VENV REQUIREMENTS}
python=${PYTHON:-python3}

pinned() { sed -n "s/^$1==//p" "$reqs"; }
airflow_version=$(pinned apache-airflow)
[ -n "$airflow_version" ] || { echo "$reqs pins no apache-airflow" >&2; exit 1; }

started=$(date +%s)
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "pip==$(pinned pip)"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$reqs"
"$venv/bin/pip" check
home=$(mktemp -d)  # `airflow` writes an airflow.cfg into AIRFLOW_HOME (default ~/airflow)
found=$(AIRFLOW_HOME="$home" "$venv/bin/airflow" version 2>/dev/null | tail -1)
rm -rf "$home"
if [ "$found" != "$airflow_version" ]; then
  echo "$venv: airflow version says '$found', $reqs pins $airflow_version" >&2
  exit 1
fi
echo "Airflow $found in $venv ($(( $(date +%s) - started )) s)"
