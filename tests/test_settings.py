"""Settings: env prefix, superstore.toml, validation, immutability."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from superstore.errors import ConfigError
from superstore.settings import load_settings
from superstore.stack import kafka_config, pg_config


def test_defaults_point_at_local_stack() -> None:
    settings = load_settings()
    assert settings.topic == "sales.lines"
    assert settings.dlq_topic == "sales.lines.dlq"
    assert settings.topic_partitions == 3
    assert settings.kafka_bootstrap is None and settings.pg_dsn is None


def test_env_prefix_and_json_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSTORE_KAFKA_BOOTSTRAP", "broker1:9092,broker2:9092")
    monkeypatch.setenv("SUPERSTORE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("SUPERSTORE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("SUPERSTORE_KAFKA_SASL_USERNAME", "alice")
    monkeypatch.setenv("SUPERSTORE_KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("SUPERSTORE_KAFKA_CONFIG", '{"client.id": "ss-test"}')
    settings = load_settings()
    conf = kafka_config(settings).base()
    assert conf["bootstrap.servers"] == "broker1:9092,broker2:9092"
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.username"] == "alice"
    assert conf["sasl.password"] == "s3cret"
    assert conf["client.id"] == "ss-test"
    assert "s3cret" not in repr(settings)


def test_toml_file_below_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "superstore.toml"
    toml.write_text(
        'topic = "from.toml"\ntimezone = "Europe/Paris"\npg_dsn = "postgresql://u:pw@db/x"\n'
    )
    monkeypatch.setenv("SUPERSTORE_CONFIG", str(toml))
    settings = load_settings()
    assert settings.topic == "from.toml"
    assert settings.timezone == "Europe/Paris"
    assert pg_config(settings).dsn == "postgresql://u:pw@db/x"
    assert "pw" not in pg_config(settings).display
    monkeypatch.setenv("SUPERSTORE_TOPIC", "from.env")
    assert load_settings().topic == "from.env"


def test_flags_override_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUPERSTORE_DATA_DIR", "/from/env")
    assert load_settings(data_dir=tmp_path).data_dir == tmp_path
    assert load_settings().data_dir == Path("/from/env")


def test_invalid_values_give_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSTORE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ConfigError, match="timezone"):
        load_settings()
    monkeypatch.setenv("SUPERSTORE_TIMEZONE", "UTC")
    monkeypatch.setenv("SUPERSTORE_KAFKA_PORT", "70000")
    with pytest.raises(ConfigError, match="kafka_port"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.topic = "x"  # type: ignore[misc]


def test_no_stack_no_config_is_a_clear_error(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(ConfigError, match="no Kafka configured") as kafka_err:
        kafka_config(settings)
    assert "superstore stack up" in (kafka_err.value.hint or "")
    with pytest.raises(ConfigError, match="no PostgreSQL configured") as pg_err:
        pg_config(settings)
    assert "SUPERSTORE_PG_DSN" in (pg_err.value.hint or "")
