"""Every setting with a wrong value: one stderr line naming it, a non-zero exit, no traceback.

Each case runs the real CLI (`python -m superstore status`) in a subprocess
with a clean environment of its own: a fresh working directory (holding the
default data directory) and its own ``superstore.toml``. No services are started: the
settings are refused before any is contacted. The cases run in a small
thread pool once per module; each test then checks one recorded result.

The field list comes from ``Settings.model_fields``: a new setting without a
wrong value here fails `test_every_setting_has_a_bad_value`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from superstore.settings import Settings


@dataclass(frozen=True)
class Case:
    """A wrong value: environment variables and/or a superstore.toml text."""

    names: str  # what the one line must contain to name the setting
    env: dict[str, str] = field(default_factory=dict)
    toml: str = ""
    secrets: tuple[str, ...] = ()  # fragments that must appear nowhere in the output
    config: str | None = None  # SUPERSTORE_CONFIG; None = the case's superstore.toml


def env(name: str, value: str, **more: str) -> Case:
    """A wrong value of the field `name` in its environment variable."""
    extra = {f"SUPERSTORE_{k.upper()}": v for k, v in more.items()}
    return Case(name, env={f"SUPERSTORE_{name.upper()}": value, **extra})


def toml(name: str, value: str = "5") -> Case:
    """A wrong value of the field `name` in superstore.toml (default: a number for a string)."""
    return Case(name, toml=f"{name} = {value}\n")


SECRET = "password=Secret PartTwo"  # libpq's own error would quote 'PartTwo'

# One wrong value per setting, of the setting's kind.
BAD: dict[str, Case] = {
    "data_dir": toml("data_dir"),
    "cache_dir": toml("cache_dir", "[1, 2]"),
    "timezone": env("timezone", "Mars/Olympus"),
    "kafka_bootstrap": toml("kafka_bootstrap", "9092"),
    "kafka_security_protocol": env("kafka_security_protocol", "TLS"),
    "kafka_sasl_mechanism": toml("kafka_sasl_mechanism", "true"),
    "kafka_sasl_username": toml("kafka_sasl_username"),
    "kafka_sasl_password": toml("kafka_sasl_password", "123456"),
    "kafka_ssl_ca_location": toml("kafka_ssl_ca_location", "[]"),
    "kafka_config": env("kafka_config", "notjson"),
    "kafka_port": env("kafka_port", "70000"),
    "topic": env("topic", "sales lines"),
    "dlq_topic": toml("dlq_topic", '"dead/letters"'),
    "topic_partitions": env("topic_partitions", "0"),
    "pg_dsn": Case("pg_dsn", env={"SUPERSTORE_PG_DSN": SECRET}, secrets=("Secret", "PartTwo")),
    "pg_port": env("pg_port", "-1"),
    "java_home": toml("java_home"),
    "lake_url": toml("lake_url"),
    "s3_endpoint_url": toml("s3_endpoint_url"),
    "s3_region": toml("s3_region"),
    "s3_sse": env("s3_sse", "DES"),
    "s3_sse_kms_key_id": toml("s3_sse_kms_key_id"),
    "etl_engine": env("etl_engine", "pandas"),
    "spark_master": toml("spark_master"),
    "spark_conf": env("spark_conf", "x"),
    "spark_stage_url": toml("spark_stage_url"),
    "warehouse": env("warehouse", "oracle"),
    "warehouse_dsn": Case(
        "warehouse_dsn",
        env={"SUPERSTORE_WAREHOUSE": "postgres", "SUPERSTORE_WAREHOUSE_DSN": SECRET},
        secrets=("Secret", "PartTwo"),
    ),
    "warehouse_path": toml("warehouse_path"),
    "warehouse_schema": env("warehouse_schema", "Star-Schema"),
    "redshift_iam_role": toml("redshift_iam_role"),
    "redshift_stage_url": toml("redshift_stage_url"),
    "redshift_copy_region": toml("redshift_copy_region"),
    "expect_regions": env("expect_regions", "West"),
    "expect_segments": toml("expect_segments", '"Consumer"'),
    "expect_ship_modes": env("expect_ship_modes", "[1, 2"),
    "expect_states": toml("expect_states", "[1, 2]"),
    "sync_interval": env("sync_interval", "0"),
    "alert_webhook_url": toml("alert_webhook_url"),
    "alert_smtp_host": toml("alert_smtp_host"),
    "alert_smtp_port": env("alert_smtp_port", "smtp"),
    "alert_smtp_from": toml("alert_smtp_from"),
    "alert_smtp_to": env("alert_smtp_to", "a@b"),
    "alert_smtp_user": toml("alert_smtp_user"),
    "alert_smtp_password": toml("alert_smtp_password", "1234"),
    "alert_smtp_starttls": env("alert_smtp_starttls", "perhaps"),
    "alert_lag_threshold": env("alert_lag_threshold", "-1"),
    "alert_dlq_growth": toml("alert_dlq_growth", "-5"),
    "metrics_port": env("metrics_port", "65536"),
    "schedule_time": env("schedule_time", "25:99"),
    "log_json": env("log_json", "maybe"),
    "web_host": toml("web_host"),
    "web_allowed_hosts": toml("web_allowed_hosts", '["a", "b"]'),
    "web_port": env("web_port", "99999"),
    "web_tls_cert": toml("web_tls_cert"),
    "web_tls_key": toml("web_tls_key", "[1]"),
    "web_trusted_proxies": env("web_trusted_proxies", "10.0.0.0/33"),
    "web_pg_dsn": Case("web_pg_dsn", env={"SUPERSTORE_WEB_PG_DSN": "this is not a dsn"}),
    "web_auth": env("web_auth", "ldap"),
    "web_tokens_file": toml("web_tokens_file"),
    "web_session_secret": toml("web_session_secret"),
    "web_session_hours": env("web_session_hours", "0"),
    "web_public_url": toml("web_public_url"),
    "web_oidc_issuer": toml("web_oidc_issuer"),
    "web_oidc_client_id": toml("web_oidc_client_id"),
    "web_oidc_client_secret": toml("web_oidc_client_secret"),
    "web_oidc_scope": toml("web_oidc_scope"),
    "web_oidc_role_claim": toml("web_oidc_role_claim"),
    "web_oidc_roles": env("web_oidc_roles", '{"staff": "superuser"}'),
    "web_oidc_regions_claim": toml("web_oidc_regions_claim"),
    "web_oidc_states_claim": toml("web_oidc_states_claim"),
}

# The cases the issue lists by name, and the file-level ones.
EXTRA: dict[str, Case] = {
    "pg_dsn not a dsn": env("pg_dsn", "this is not a dsn"),
    "pg_dsn in toml": Case("pg_dsn", toml=f'pg_dsn = "{SECRET}"\n', secrets=("Secret", "PartTwo")),
    "kafka_config in toml": toml("kafka_config", "{ acks = [1] }"),
    "timezone in toml": toml("timezone", '"Nowhere/Land"'),
    "schedule_time 24:00": env("schedule_time", "24:00"),
    "schedule_time 7:30": env("schedule_time", "7:30"),
    "unknown toml key": Case("web_prot", toml="web_prot = 9000\n"),
    "toml syntax error": Case("superstore.toml", toml="topic = \n"),
    "toml binary junk": Case("superstore.toml", toml="\x00\xff\xfe junk \x89PNG"),
    "missing config file": Case("SUPERSTORE_CONFIG", config="/nonexistent/superstore.toml"),
    "config is a directory": Case("SUPERSTORE_CONFIG", config="/"),
}
CASES = {**BAD, **EXTRA}


def _cli(*args: str, env: dict[str, str], toml: bytes = b"") -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh working directory, with only `env` and `toml` as settings.

    No SUPERSTORE_DATA_DIR: it would hide a wrong data_dir in the file; the
    default ./.superstore is inside the fresh working directory.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("SUPERSTORE_")}
    with tempfile.TemporaryDirectory(prefix="bad-setting-") as tmp:
        config = Path(tmp) / "superstore.toml"
        config.write_bytes(toml)
        return subprocess.run(
            [sys.executable, "-m", "superstore", *args],
            cwd=tmp,
            env={**base, "SUPERSTORE_CONFIG": str(config), **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def _run(case: Case) -> subprocess.CompletedProcess[str]:
    """The CLI's answer to one wrong value (latin-1 keeps the junk bytes as they are)."""
    env = {**case.env, **({"SUPERSTORE_CONFIG": case.config} if case.config else {})}
    return _cli("status", env=env, toml=case.toml.encode("latin-1"))


@pytest.fixture(scope="module")
def outcomes() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case's outcome, run three at a time (each is one short CLI start)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(CASES, pool.map(_run, CASES.values()), strict=True))


def test_every_setting_has_a_bad_value() -> None:
    assert set(BAD) == set(Settings.model_fields), (
        "add a wrong value for each new setting to BAD: "
        f"{sorted(set(Settings.model_fields) - set(BAD))}; "
        f"no longer settings: {sorted(set(BAD) - set(Settings.model_fields))}"
    )


@pytest.mark.parametrize("name", list(CASES))
def test_bad_value_is_one_line_naming_the_setting(
    outcomes: dict[str, subprocess.CompletedProcess[str]], name: str
) -> None:
    case, out = CASES[name], outcomes[name]
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2, (out.returncode, out.stderr, out.stdout)
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert lines[0].startswith("error: ") and case.names in lines[0], lines[0]
    for secret in case.secrets:
        assert secret not in out.stderr + out.stdout, lines[0]


def test_unknown_toml_key_suggests_the_close_name(
    outcomes: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    line = outcomes["unknown toml key"].stderr.strip()
    assert "unknown setting web_prot in" in line and "superstore.toml" in line
    assert "did you mean web_port?" in line


def test_messages_say_what_is_wrong(outcomes: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert "SUPERSTORE_KAFKA_CONFIG: not a JSON object" in outcomes["kafka_config"].stderr
    assert "SUPERSTORE_ALERT_SMTP_TO: not a JSON list" in outcomes["alert_smtp_to"].stderr
    assert "00:00 to 23:59" in outcomes["schedule_time"].stderr
    assert "not valid TOML" in outcomes["toml syntax error"].stderr
    assert "not UTF-8" in outcomes["toml binary junk"].stderr
    assert "does not exist" in outcomes["missing config file"].stderr
    assert "superstore.toml" in outcomes["timezone in toml"].stderr


def test_unknown_environment_variables_are_ignored_a_likely_typo_warned() -> None:
    """The environment is shared (tests, other tools): only the TOML file is strict."""
    out = _run(Case("", env={"SUPERSTORE_NOT_A_SETTING": "1", "SUPERSTORE_WEB_PROT": "9000"}))
    assert "Traceback" not in out.stderr and "error:" not in out.stderr, out.stderr
    assert "kafka" in out.stdout  # status ran: DOWN lines, no stack in the fresh directory
    assert out.stderr.count("\n") == 1, out.stderr
    assert "SUPERSTORE_WEB_PROT is not a setting (did you mean SUPERSTORE_WEB_PORT?)" in out.stderr


def test_status_says_why_a_service_is_down() -> None:
    """A refused librdkafka property and an unreachable PostgreSQL, each with its reason."""
    done = _cli(
        "status",
        env={
            "SUPERSTORE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "SUPERSTORE_KAFKA_CONFIG": '{"bogus.key": "x"}',
            "SUPERSTORE_PG_DSN": "host=127.0.0.1 port=1 password=Secret",
        },
    )
    shown = " ".join(done.stdout.split())  # the console wraps at 80 columns
    assert done.returncode == 1, done.stderr
    assert (
        "kafka DOWN (127.0.0.1:1): invalid librdkafka setting 'bogus.key' in "
        "SUPERSTORE_KAFKA_CONFIG" in shown
    ), shown
    assert "postgres DOWN" in shown and "Connection refused" in shown, shown
    assert "Secret" not in done.stdout + done.stderr


def test_other_commands_name_a_refused_librdkafka_property() -> None:
    done = _cli(
        "topic",
        "stats",
        env={
            "SUPERSTORE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
            "SUPERSTORE_KAFKA_CONFIG": '{"acks": "x"}',
        },
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "error: invalid librdkafka setting 'request.required.acks' in SUPERSTORE_KAFKA_CONFIG: "
        "invalid value"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["export", "--date", "2017-02-30"], "2017-02-30 is not a day that exists"),
        (["etl", "--from", "2017-13-01"], "2017-13-01 is not a day that exists"),
        (["produce", "--replay", "--since", "2017-02-29"], "2017-02-29 is not a day that exists"),
        (["check", "--until", "2017-04-31"], "2017-04-31 is not a day that exists"),
        (["serve", "--date", "2018-02-29"], "2018-02-29 is not a day that exists"),
        (["export", "--date", "30/02/2017"], "is not a day written YYYY-MM-DD"),
        (["export", "--date", "2017-2-3"], "is not a day written YYYY-MM-DD"),
    ],
)
def test_dates_that_do_not_exist_are_named(args: list[str], says: str) -> None:
    done = _cli(*args, env={})
    assert done.returncode == 2 and "Traceback" not in done.stderr
    # one line naming the option, not Typer's boxed usage panel
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    line = done.stderr.strip()
    assert says in line and f"'{args[-2]}'" in line and line.startswith("error: "), line


def test_usage_errors_are_one_line_and_help_still_answers() -> None:
    done = _cli("export", "--bogus", env={})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: No such option: --bogus (see 'superstore export --help')"
    ), done.stderr
    helped = _cli("export", "--help", env={})
    assert helped.returncode == 0 and "--date" in helped.stdout, helped.stderr
