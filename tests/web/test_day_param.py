"""/api/today's `date` is a calendar day written YYYY-MM-DD, nothing else."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from superstore.clients import PgConfig
from superstore.web.app import create_app
from superstore.web.config import WebConfig


@pytest.mark.parametrize("value", ["0", "1512000000", "20171230", "2017-2-3", "2017-02-30"])
def test_not_a_day_is_a_422_naming_the_parameter(value: str) -> None:
    app = create_app(WebConfig(pg=PgConfig("postgresql://nobody@127.0.0.1:1/none"), warehouse=None))
    got = TestClient(app).get("/api/today", params={"date": value})  # no lifespan: no database
    assert got.status_code == 422, got.text
    (error,) = got.json()["errors"]
    assert error["loc"] == ["query", "date"]
