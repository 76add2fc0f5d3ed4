"""The local broker with SASL/SCRAM-SHA-512 over TLS (`stack up --kafka-secure`), as MSK serves it.

One secure stack (broker + PostgreSQL) in its own data dir for the module; the
commands run as real processes, exactly as a user runs them, and reach the
broker only through what the stack state records.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from superstore.clients import KafkaConfig
from superstore.data import dataset_stats, lines_between, load_lines
from superstore.errors import ConfigError, SuperstoreError
from superstore.settings import Settings, load_settings
from superstore.stack import kafka_config, pg_config, stack_down, stack_up
from superstore.stack.state import read_state
from tests.support.ingest import totals


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A local stack whose broker accepts only SASL_SSL with SCRAM-SHA-512."""
    settings = load_settings(data_dir=tmp_path_factory.mktemp("secure"))
    stack_up(settings, report=lambda msg: print(msg, file=sys.stderr), kafka_secure=True)
    try:
        yield settings
    finally:
        stack_down(settings, purge=True)


def _cli(settings: Settings, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "superstore", *args],
        env={**os.environ, "SUPERSTORE_DATA_DIR": str(settings.data_dir), **(env or {})},
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip


def _with(kafka: KafkaConfig, **security: str) -> KafkaConfig:
    """The same broker and topics with other client security settings."""
    return KafkaConfig(kafka.bootstrap, kafka.topic, kafka.dlq_topic, security=security)


def test_state_records_the_security_and_every_file_is_private(secure: Settings) -> None:
    state = read_state(secure.data_dir)
    assert state and state.kafka and state.kafka_auth
    auth = state.kafka_auth
    assert (auth.security_protocol, auth.sasl_mechanism, auth.sasl_username) == (
        "SASL_SSL", "SCRAM-SHA-512", "superstore",
    )  # fmt: skip
    password = Path(auth.sasl_password_file).read_text()
    assert len(password) >= 24
    assert password not in (secure.data_dir / "stack.json").read_text(), "state holds no password"
    home = secure.data_dir / "kafka"
    props = (home / "server.properties").read_text()
    assert "PLAINTEXT://" not in props, "no plaintext listener for clients"
    assert "listener.name.controller.ssl.client.auth=required" in props
    private = [p for p in home.rglob("*") if p.is_file()]
    assert len(private) > 10, "broker data written under the home"
    loose = {str(p): oct(p.stat().st_mode & 0o777) for p in private
             if p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)}  # fmt: skip
    assert loose == {}, "every broker file is 0600 (keys, passwords, segments, logs)"
    for sub in (home / "auth", home):
        assert sub.stat().st_mode & 0o777 == 0o700


def test_produce_and_ingest_over_sasl_ssl_exactly_once(secure: Settings) -> None:
    produced = _cli(secure, "produce", "--replay", "--since", "2017-12-01", "--until", "2017-12-31")
    assert produced.returncode == 0, produced.stderr
    expected = lines_between(load_lines(), dt.date(2017, 12, 1), dt.date(2017, 12, 31))
    for _ in range(2):  # the second run re-reads nothing: offsets live in PostgreSQL
        ingest = _cli(secure, "ingest", "--until-idle", "3")
        assert ingest.returncode == 0, ingest.stderr
        lines, sales, rejected = totals(pg_config(secure))
        assert (lines, rejected) == (len(expected), 0) and len(expected) > 300
        assert sales == Decimal(dataset_stats(expected).sales)
    stats = _cli(secure, "topic", "stats")
    assert stats.returncode == 0, stats.stderr
    assert f"{len(expected):,}" in stats.stdout + stats.stderr


def test_status_and_env_show_the_protocol_and_mask_the_password(secure: Settings) -> None:
    status = _cli(secure, "stack", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "SASL_SSL" in status.stdout and "SCRAM-SHA-512" in status.stdout
    env = _cli(secure, "stack", "env")
    assert env.returncode == 0, env.stderr
    password = kafka_config(secure).security["sasl.password"]
    assert "SUPERSTORE_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in env.stdout
    assert "SUPERSTORE_KAFKA_SASL_PASSWORD=***" in env.stdout and password not in env.stdout
    shown = _cli(secure, "stack", "env", "--show-secrets")
    pairs = dict(line.split("=", 1) for line in shown.stdout.splitlines())
    assert pairs["SUPERSTORE_KAFKA_SASL_PASSWORD"] == password
    # What `eval $(superstore stack env --show-secrets)` gives another shell: the
    # settings path of an external MSK cluster, against the real secured broker.
    external = load_settings(
        data_dir=secure.data_dir / "elsewhere",
        kafka_bootstrap=pairs["SUPERSTORE_KAFKA_BOOTSTRAP"],
        kafka_security_protocol=pairs["SUPERSTORE_KAFKA_SECURITY_PROTOCOL"],
        kafka_sasl_mechanism=pairs["SUPERSTORE_KAFKA_SASL_MECHANISM"],
        kafka_sasl_username=pairs["SUPERSTORE_KAFKA_SASL_USERNAME"],
        kafka_sasl_password=pairs["SUPERSTORE_KAFKA_SASL_PASSWORD"],
        kafka_ssl_ca_location=pairs["SUPERSTORE_KAFKA_SSL_CA_LOCATION"],
    )
    assert kafka_config(external).ping(timeout=10) == 1


def test_wrong_password_is_refused_in_one_line(secure: Settings) -> None:
    kafka = kafka_config(secure)
    wrong = _with(kafka, **{**kafka.security, "sasl.password": "not-the-password"})
    with pytest.raises(ConfigError, match="authentication"):
        wrong.ping(timeout=10)
    env = {
        "SUPERSTORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SUPERSTORE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SUPERSTORE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "SUPERSTORE_KAFKA_SASL_USERNAME": "superstore",
        "SUPERSTORE_KAFKA_SASL_PASSWORD": "not-the-password",
        "SUPERSTORE_KAFKA_SSL_CA_LOCATION": kafka.security["ssl.ca.location"],
    }
    for args in (["topic", "stats"], ["produce", "--replay", "--since", "2017-12-30"]):
        result = _cli(secure, *args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and "not-the-password" not in result.stderr
        assert "authentication" in result.stderr, result.stderr


def test_no_credentials_and_plaintext_are_refused(secure: Settings) -> None:
    kafka = kafka_config(secure)
    tls_only = _with(kafka, **{"security.protocol": "SSL",
                               "ssl.ca.location": kafka.security["ssl.ca.location"]})  # fmt: skip
    with pytest.raises(SuperstoreError):
        tls_only.ping(timeout=5)
    no_user = _with(kafka, **{k: v for k, v in kafka.security.items()
                              if k not in ("sasl.username", "sasl.password")})  # fmt: skip
    with pytest.raises(ConfigError, match=r"sasl\.username"):  # librdkafka will not even try
        no_user.ping(timeout=5)
    with pytest.raises(SuperstoreError) as plaintext:
        _with(kafka).ping(timeout=5)
    assert "security protocol" in str(plaintext.value) or "did not answer" in str(plaintext.value)
    untrusted = _with(kafka, **{k: v for k, v in kafka.security.items()
                                if k != "ssl.ca.location"})  # fmt: skip
    with pytest.raises(ConfigError, match=r"TLS|certificate"):
        untrusted.ping(timeout=5)


def test_the_controller_port_wants_the_brokers_certificate(secure: Settings) -> None:
    state = read_state(secure.data_dir)
    assert state and state.kafka
    kafka = kafka_config(secure)
    controller = f"127.0.0.1:{state.kafka.extra['controller_port']}"
    for security in ({}, kafka.security):  # plaintext; the client's SCRAM user but no certificate
        with pytest.raises(SuperstoreError):
            KafkaConfig(controller, "t", "d", security=dict(security)).ping(timeout=5)


def test_security_of_a_running_broker_cannot_flip(secure: Settings) -> None:
    with pytest.raises(ConfigError, match="SASL_SSL"):
        stack_up(secure, kafka_secure=False)
    assert kafka_config(secure).ping(timeout=10) == 1, "still the secure broker"


def test_down_and_up_keep_the_broker_secured(secure: Settings) -> None:
    password = kafka_config(secure).security["sasl.password"]
    stack_down(secure)  # keeps the data: the storage knows it was formatted SASL_SSL
    state = stack_up(secure)  # no option: as formatted
    assert state.kafka_auth and state.kafka_auth.security_protocol == "SASL_SSL"
    kafka = kafka_config(secure)
    assert kafka.security["sasl.password"] == password, "the SCRAM users of the format"
    assert kafka.ping(timeout=10) == 1
    assert not (secure.data_dir / "kafka" / "format.args").exists()


def test_secure_is_for_the_single_local_broker_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="a local cluster runs PLAINTEXT only"):
        stack_up(load_settings(data_dir=tmp_path / "a"), brokers=3, kafka_secure=True)
    external = load_settings(data_dir=tmp_path / "b", kafka_bootstrap="b-1.msk.example:9096")
    with pytest.raises(ConfigError, match="external cluster"):
        stack_up(external, kafka_secure=True)
    assert read_state(tmp_path / "a") is None and read_state(tmp_path / "b") is None


def test_cli_option_refuses_a_cluster_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "superstore", "stack", "up", "--kafka-secure", "--brokers", "3"],
        env={**os.environ, "SUPERSTORE_DATA_DIR": str(tmp_path / "data")},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "a local cluster runs PLAINTEXT only" in result.stderr
    assert "Traceback" not in result.stderr
    assert read_state(tmp_path / "data") is None, "nothing started"
