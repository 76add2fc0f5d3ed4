"""Secrets given by environment never show up in command output or logs."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo

SECRETS = ["kafka-pass-Zq81", "pg-pass-Wx93", "hook-token-Tk55", "smtp-pass-Pv27"]


def test_secrets_are_never_printed(cli, pg) -> None:
    dsn = make_conninfo(**(conninfo_to_dict(pg.dsn) | {"password": "pg-pass-Wx93"}))
    env = {
        "SUPERSTORE_PG_DSN": dsn,
        "SUPERSTORE_KAFKA_SASL_USERNAME": "alice",
        "SUPERSTORE_KAFKA_SASL_PASSWORD": "kafka-pass-Zq81",
        "SUPERSTORE_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook-token-Tk55",
        "SUPERSTORE_ALERT_SMTP_PASSWORD": "smtp-pass-Pv27",
    }
    outputs = []
    for args in (["-v", "stack", "status"], ["-v", "status"], ["-v", "check", "--no-kafka",
                 "--no-warehouse"]):  # fmt: skip
        result = cli(*args, env=env)
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "postgres" in text, "the commands really ran"
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked"
