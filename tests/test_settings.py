"""Settings: env prefix, superstore.toml, validation, immutability."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from superstore.errors import ConfigError
from superstore.settings import load_settings, misspelt_variables
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


def test_schedule_time_is_a_time_of_day(monkeypatch: pytest.MonkeyPatch) -> None:
    for good in ("00:00", "07:30", "23:59"):
        monkeypatch.setenv("SUPERSTORE_SCHEDULE_TIME", good)
        assert load_settings().schedule_time == good
    for bad in ("24:00", "25:99", "12:60", "7:30", "noon"):
        monkeypatch.setenv("SUPERSTORE_SCHEDULE_TIME", bad)
        with pytest.raises(ConfigError, match="schedule_time from SUPERSTORE_SCHEDULE_TIME"):
            load_settings()


def test_unknown_toml_key_is_refused_with_the_close_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "superstore.toml"
    toml.write_text("web_prot = 9000\n")
    monkeypatch.setenv("SUPERSTORE_CONFIG", str(toml))
    with pytest.raises(ConfigError, match=r"unknown setting web_prot in .*did you mean web_port"):
        load_settings()
    toml.write_text("completely_unrelated = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting completely_unrelated in [^(]*$"):
        load_settings()


def test_config_file_must_exist_and_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSTORE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"SUPERSTORE_CONFIG names .*missing\.toml"):
        load_settings()
    bad = tmp_path / "bad.toml"
    monkeypatch.setenv("SUPERSTORE_CONFIG", str(bad))
    bad.write_text('topic = "unterminated\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings()


def test_no_config_file_in_the_working_directory_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUPERSTORE_CONFIG")
    monkeypatch.chdir(tmp_path)
    assert load_settings().topic == "sales.lines"


def test_bad_dsn_never_echoes_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for dsn in ("password=Secret PartTwo", "this is not a dsn"):
        monkeypatch.setenv("SUPERSTORE_PG_DSN", dsn)
        with pytest.raises(ConfigError, match="pg_dsn from SUPERSTORE_PG_DSN") as err:
            load_settings()
        assert "Secret" not in str(err.value) and "PartTwo" not in str(err.value)
    monkeypatch.setenv("SUPERSTORE_PG_DSN", "host=db password='Secret PartTwo'")
    assert load_settings().pg_dsn_value == "host=db password='Secret PartTwo'"


def test_json_numbers_and_booleans_are_librdkafka_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSTORE_KAFKA_CONFIG", '{"linger.ms": 5, "enable.idempotence": true}')
    assert load_settings().kafka_config == {"linger.ms": "5", "enable.idempotence": "true"}
    monkeypatch.setenv("SUPERSTORE_KAFKA_CONFIG", "notjson")
    with pytest.raises(ConfigError, match="kafka_config from SUPERSTORE_KAFKA_CONFIG: not a JSON"):
        load_settings()


def test_only_likely_typos_of_settings_are_warned() -> None:
    environ = {
        "SUPERSTORE_WEB_PROT": "9000",
        "SUPERSTORE_TIMEZON": "UTC",
        "SUPERSTORE_PYTHON": "/usr/bin/python3",
        "SUPERSTORE_AIRFLOW_SYNC_MINUTES": "5",
        "SUPERSTORE_CONFIG": "x.toml",
        "SUPERSTORE_TOPIC": "t",
        "HOME": "/root",
    }
    assert misspelt_variables(environ) == [
        "SUPERSTORE_TIMEZON is not a setting (did you mean SUPERSTORE_TIMEZONE?); ignored",
        "SUPERSTORE_WEB_PROT is not a setting (did you mean SUPERSTORE_WEB_PORT?); ignored",
    ]
