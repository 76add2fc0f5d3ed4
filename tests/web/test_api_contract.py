"""The API keeps its OpenAPI contract: a bounded schemathesis run finds nothing.

The real server (uvicorn on 127.0.0.1) with token sign-in, reading the test
PostgreSQL database and DuckDB warehouse of `conftest.py`. Every operation is
fuzzed with valid and invalid inputs (schemathesis's default: both modes) and
every built-in check runs (one exception: `_rule_the_schema_cannot_state`), so
a status code, content type, header or body the schema does not declare fails
the test, and so does a 5xx or a request that gets in without its token.

Left out: the two server-sent event streams. Their responses never end (they
push until the client leaves), so a check that reads the body would wait for
ever; `test_today_api` and `test_web_edge` cover their status and errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.openapi import from_url
from schemathesis.specs.openapi.checks import positive_data_acceptance

from superstore.clients import PgConfig
from superstore.warehouse import DuckDBReader
from superstore.web import DashboardServer, WebConfig
from superstore.web.access import AuthConfig
from superstore.web.tokens import TokenStore

STREAMS = r"^/api/(today|analytics)/stream$"


@pytest.fixture(scope="module")
def contract_server(
    web_pg: PgConfig, star_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DashboardServer, str]]:
    """The dashboards with token sign-in, and an admin token (every operation opens)."""
    tokens = TokenStore(tmp_path_factory.mktemp("contract") / "web_tokens.json")
    token, _ = tokens.create("admin", "contract")
    config = WebConfig(
        pg=PgConfig(web_pg.dsn).read_only(),
        warehouse=DuckDBReader(star_path),
        timezone="UTC",
        auth=AuthConfig(mode="token", tokens=tokens),
    )
    with DashboardServer(config, "127.0.0.1", 0) as server:
        yield server, token


@pytest.fixture(scope="module")
def api_schema(contract_server: tuple[DashboardServer, str]) -> schemathesis.BaseSchema:
    server, token = contract_server
    schema = from_url(f"{server.url}/openapi.json", headers={"Authorization": f"Bearer {token}"})
    return schema.exclude(path_regex=STREAMS)


def _rule_the_schema_cannot_state(response: Any) -> bool:
    """A 422 of the app's own checks (a problem whose one error has no location).

    Those reject what OpenAPI cannot describe: a state, segment or year the
    warehouse does not hold, `from` after `to`, `range` together with
    `from`/`to`. Schema-valid input rejected anywhere else, FastAPI's own
    validation included, still fails `positive_data_acceptance`.
    """
    if response.status_code != 422:
        return False
    errors = response.json().get("errors") or [{}]
    return len(errors) == 1 and errors[0].get("loc") == []


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, token: str) -> None:
    """Up to 12 examples of one operation, each sent and checked by every built-in check."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same examples every run: a failure here is reproducible
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(headers=headers, timeout=30)
        excluded = [positive_data_acceptance] if _rule_the_schema_cannot_state(response) else []
        case.validate_response(
            response,
            headers=headers,
            excluded_checks=excluded,
            transport_kwargs={"headers": headers, "timeout": 30},
        )

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_contract(
    api_schema: schemathesis.BaseSchema,
    contract_server: tuple[DashboardServer, str],
    mode: GenerationMode,
) -> None:
    """Valid inputs get documented answers; invalid ones a documented 422, never a 5xx."""
    _, token = contract_server
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:
        try:
            _fuzz(operation, mode, token)
        except Unsatisfiable:  # no parameters: nothing invalid to send
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as exc:  # every operation runs; all are reported
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
