"""Alerts reach a real local webhook receiver and a real SMTP server; metrics are scraped."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from superstore.ops.alerts import Alert, Alerter
from superstore.ops.metrics import observe_batch, observe_step, serve_metrics, set_lag
from superstore.settings import load_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webhook() -> tuple[str, list[dict]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook/secret-token", received
    server.shutdown()


def test_webhook_alert_is_slack_compatible(webhook, monkeypatch, caplog) -> None:
    url, received = webhook
    monkeypatch.setenv("SUPERSTORE_ALERT_WEBHOOK_URL", url)
    alerter = Alerter.from_settings(load_settings())
    delivered = alerter.send(Alert("step_failed", "export 2026-11-24 failed", {"error": "boom"}))
    assert delivered == 1
    assert received and "export 2026-11-24 failed" in received[0]["text"]
    assert received[0]["kind"] == "step_failed"
    assert "secret-token" not in caplog.text, "the webhook URL is a secret"


def test_unreachable_webhook_is_logged_not_raised(caplog) -> None:
    alerter = Alerter(webhook_url=f"http://127.0.0.1:{_free_port()}/x?token=s3cr3t")
    assert alerter.send(Alert("lag_high", "lag 1,000,000")) == 0
    assert "delivery failed" in caplog.text and "s3cr3t" not in caplog.text


def test_smtp_alert_is_delivered() -> None:
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.content)
            return "250 OK"

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        alerter = Alerter(smtp_host="127.0.0.1", smtp_port=port, smtp_to=("ops@example.com",))
        assert alerter.send(Alert("reconciliation_mismatch", "2 days disagree")) == 1
        deadline = time.monotonic() + 5
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        controller.stop()
    assert b"reconciliation_mismatch" in inbox.messages[0]


def test_metrics_are_exposed() -> None:
    port = _free_port()
    serve_metrics(port)
    observe_batch(consumed=10, written=9, rejected=1, seconds=0.02)
    set_lag({0: 5, 1: 0})
    observe_step("export", 1.5, rows=42, ok=True)
    observe_step("etl", 0.5, rows=0, ok=False)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'superstore_lines_total{outcome="rejected"}' in text
    assert 'superstore_consumer_lag{partition="0"} 5.0' in text
    assert 'superstore_step_failures_total{step="etl"} 1.0' in text
    assert "superstore_step_last_success_timestamp" in text
    assert "superstore_ingest_batch_seconds_bucket" in text
