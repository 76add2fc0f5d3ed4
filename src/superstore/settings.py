"""Settings: one frozen object, read once at the CLI edge and passed down.

Sources, highest priority first: explicit overrides (CLI flags), environment
variables with prefix ``SUPERSTORE_``, a ``.env`` file, then ``superstore.toml``
in the working directory (or the file named by ``SUPERSTORE_CONFIG``).

Strict where a typo would otherwise go unnoticed: an unknown key in the TOML
file is refused (with the close name suggested), a ``SUPERSTORE_CONFIG`` that
names no readable file is refused, and every invalid value becomes one
`ConfigError` naming the setting and where it came from, never echoing a
secret. Unknown ``SUPERSTORE_*`` environment variables are not refused: the
environment is shared with other tools and tests, a file is ours alone; one
that is a likely typo of a setting gets a warning (`misspelt_variables`).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError

from superstore.errors import ConfigError

__all__ = ["Settings", "load_settings", "misspelt_variables"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
WebRole = Literal["viewer", "analyst", "admin"]
_DEFAULT_ROLES: dict[str, WebRole] = {"viewer": "viewer", "analyst": "analyst", "admin": "admin"}
_TOPIC_NAME = r"^[A-Za-z0-9._-]{1,249}$"  # what Kafka accepts as a topic name


class Settings(BaseSettings):
    """Every knob of the pipeline. Field ``x`` is read from ``SUPERSTORE_X``."""

    model_config = SettingsConfigDict(
        env_prefix="SUPERSTORE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(Path(".superstore"), description="State, logs and local data.")
    cache_dir: Path = Field(
        Path(os.path.expanduser("~/.cache/superstore")),
        description="Resolved Kafka jars; survives `stack down --purge`.",
    )
    timezone: str = Field("UTC", description="Time zone that decides what 'today' is.")

    # Kafka: empty bootstrap means "use the local stack".
    kafka_bootstrap: str | None = Field(None, description="Existing cluster's bootstrap servers.")
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None
    kafka_config: dict[str, str] = Field(
        default_factory=dict, description="Extra librdkafka settings (JSON object)."
    )
    kafka_port: int = Field(0, ge=0, le=65535, description="Local broker port; 0 picks a free one.")
    topic: str = Field("sales.lines", pattern=_TOPIC_NAME, description="Topic of sales lines.")
    dlq_topic: str = Field("sales.lines.dlq", pattern=_TOPIC_NAME, description="Dead letters.")
    topic_partitions: int = Field(3, ge=1)

    # PostgreSQL: empty DSN means "use the local stack".
    pg_dsn: SecretStr | None = Field(None, description="libpq DSN of an existing server.")
    pg_port: int = Field(0, ge=0, le=65535, description="Local server port; 0 picks a free one.")

    java_home: Path | None = Field(None, description="JDK 17+ for the local broker.")

    # Lake (daily export): empty URL means "<data_dir>/lake". S3 credentials come
    # only from the standard AWS chain (env, profile, instance role), never from here.
    lake_url: str = Field("", description="Lake root: a directory or s3://bucket/prefix.")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint; empty = AWS.")
    s3_region: str = Field("", description="S3 region; empty = the AWS chain's default.")
    s3_sse: Literal["", "AES256", "aws:kms"] = Field("", description="Server-side encryption.")
    s3_sse_kms_key_id: str = Field("", description="KMS key id for s3_sse=aws:kms.")

    # Star-schema ETL and warehouse (see docs/warehouse.md).
    etl_engine: Literal["duckdb", "spark"] = Field("duckdb", description="Transform engine.")
    spark_master: str = Field("local[*]", description="Spark master URL (yarn on EMR).")
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description="Extra Spark settings (JSON object)."
    )
    spark_stage_url: str = Field(
        "", description="Where Spark on a cluster writes star tables for the driver (s3://...)."
    )
    warehouse: Literal["duckdb", "postgres", "redshift"] = Field(
        "duckdb", description="Warehouse target."
    )
    warehouse_dsn: SecretStr | None = Field(
        None, description="postgres: libpq DSN (default: the stack's server); redshift: URL."
    )
    warehouse_path: Path | None = Field(
        None, description="DuckDB warehouse file; default <data_dir>/warehouse.duckdb."
    )
    warehouse_schema: str = Field("star", pattern=r"^[a-z_][a-z0-9_]*$")
    redshift_iam_role: str = Field("", description="IAM role ARN Redshift COPY assumes.")
    redshift_stage_url: str = Field(
        "", description="s3:// prefix for batches staged for COPY; default <lake_url>/_stage."
    )
    redshift_copy_region: str = Field("", description="REGION of the stage bucket for COPY.")

    # Data expectations (reference sets; empty = the data set's values, every US state).
    expect_regions: list[str] = Field(default_factory=list, description="JSON list of regions.")
    expect_segments: list[str] = Field(default_factory=list, description="JSON list of segments.")
    expect_ship_modes: list[str] = Field(
        default_factory=list, description="JSON list of ship modes."
    )
    expect_states: list[str] = Field(default_factory=list, description="JSON list of US states.")

    # Continuous sync (`superstore run`): stale days re-exported and reloaded as they appear.
    sync_interval: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="Seconds between syncs of the day still being written.",
    )

    # Operations (`superstore run`, `check`, alerts, metrics).
    alert_webhook_url: SecretStr | None = Field(None, description="Slack-compatible webhook.")
    alert_smtp_host: str = ""
    alert_smtp_port: int = Field(25, ge=1, le=65535)
    alert_smtp_from: str = "superstore@localhost"
    alert_smtp_to: list[str] = Field(default_factory=list, description="JSON list of addresses.")
    alert_smtp_user: str = ""
    alert_smtp_password: SecretStr | None = None
    alert_smtp_starttls: bool = False
    alert_lag_threshold: int = Field(100_000, ge=0, description="Alert above this consumer lag.")
    alert_dlq_growth: int = Field(100, ge=0, description="Alert when the DLQ grows by this much.")
    metrics_port: int = Field(
        9108, ge=0, le=65535, description="Prometheus /metrics port; 0 = off."
    )
    schedule_time: str = Field(
        "00:15", description="Local time (HH:MM) the finished day is exported."
    )
    log_json: bool = Field(False, description="Structured JSON log lines.")

    # Dashboards (`superstore serve`): loopback by default; the pages are read-only.
    web_host: str = Field("127.0.0.1", description="Address the dashboard server binds.")
    web_allowed_hosts: str = Field(
        "",
        description="Comma-separated Host names the dashboards answer besides loopback and "
        "the bind address (DNS rebinding guard).",
    )
    web_port: int = Field(8000, ge=0, le=65535, description="Dashboard port; 0 picks a free one.")
    web_pg_dsn: SecretStr | None = Field(
        None, description="DSN of a read-only role for /today; default: pg_dsn, read-only session."
    )
    web_tls_cert: Path | None = Field(
        None, description="PEM certificate (chain) the dashboards serve https with."
    )
    web_tls_key: Path | None = Field(None, description="PEM private key of web_tls_cert.")
    web_trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For/"
        "-Proto/-Host headers are believed; from other peers they are ignored.",
    )

    # Sign-in, roles and row-level security of the dashboards (superstore.web.access).
    web_auth: Literal["none", "token", "oidc"] = Field(
        "none", description="Sign-in for the dashboards; 'none' allows loopback binds only."
    )
    web_tokens_file: Path | None = Field(
        None, description="API token store (0600 JSON); default: data_dir/web_tokens.json."
    )
    web_session_secret: SecretStr | None = Field(
        None, description="Key signing session cookies; default: a fresh one per start."
    )
    web_session_hours: float = Field(8.0, gt=0, le=720, description="Sign-in session lifetime.")
    web_public_url: str = Field(
        "", description="External base URL (redirect URIs; https makes cookies Secure)."
    )
    web_oidc_issuer: str = Field("", description="OpenID Connect issuer URL (discovery).")
    web_oidc_client_id: str = ""
    web_oidc_client_secret: SecretStr | None = None
    web_oidc_scope: str = Field("openid profile email", description="Scopes asked for.")
    web_oidc_role_claim: str = Field("roles", description="Claim holding the user's roles.")
    web_oidc_roles: dict[str, WebRole] = Field(
        default_factory=lambda: dict(_DEFAULT_ROLES),
        description="JSON map: claim value -> viewer, analyst or admin (highest wins).",
    )
    web_oidc_regions_claim: str = Field("regions", description="Claim: regions a user may see.")
    web_oidc_states_claim: str = Field("states", description="Claim: states a user may see.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("kafka_config", "spark_conf", mode="before")
    @classmethod
    def _scalars_as_text(cls, value: Any) -> Any:
        # {"linger.ms": 5, "enable.idempotence": true} is the natural JSON; both
        # librdkafka and Spark take every property as text.
        if isinstance(value, dict):
            return {k: _as_text(v) for k, v in value.items()}
        return value

    @field_validator("web_trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        # Checked here too (not only when `serve` starts) so `status` and the
        # settings walk catch a typo before a deployment depends on it.
        for entry in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return value

    @field_validator("schedule_time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{2}):(\d{2})", value)
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise ValueError(f"{value!r} is not a time of day HH:MM from 00:00 to 23:59")
        return value

    @field_validator("pg_dsn", "web_pg_dsn", "warehouse_dsn")
    @classmethod
    def _libpq_dsn(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # libpq's own parser; its message quotes the DSN (maybe the password), so it is dropped.
        # A Redshift warehouse_dsn is a URL of another kind, checked by its own driver.
        redshift = info.field_name == "warehouse_dsn" and info.data.get("warehouse") != "postgres"
        if value is not None and not redshift:
            try:
                conninfo_to_dict(value.get_secret_value())
            except Exception:
                raise ValueError(
                    "not a libpq connection string (key=value ..., quote values with spaces)"
                    " or postgresql:// URL"
                ) from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add ``superstore.toml`` (or ``$SUPERSTORE_CONFIG``) below env and .env."""
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            InitSettingsSource(settings_cls, init_kwargs=_read_toml(set(cls.model_fields))),
        )

    @property
    def warehouse_dsn_value(self) -> str | None:
        """The warehouse DSN in clear, for drivers only (never log it)."""
        return self.warehouse_dsn.get_secret_value() if self.warehouse_dsn else None

    @property
    def pg_dsn_value(self) -> str | None:
        """The DSN in clear, for drivers only (never log it)."""
        return self.pg_dsn.get_secret_value() if self.pg_dsn else None


def _as_text(value: Any) -> Any:
    """A JSON number or boolean as the text librdkafka and Spark expect; anything else as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; turn any bad value into one clear ConfigError.

    The message names the setting and its source (the environment variable,
    the TOML file, or the flag) so the user knows which line to fix; the value
    itself is never quoted, as it may be a secret.
    """
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except UnicodeDecodeError as exc:  # .env (the TOML file is read by _read_toml)
        raise ConfigError(f".env is not UTF-8 text (byte {exc.start})") from None
    except SettingsError as exc:  # a JSON list or object that does not parse
        match = re.search(r'field "(\w+)" from source "(\w+)"', str(exc))
        field = match[1] if match else "settings"
        kind = "list" if field in Settings.model_fields and _is_list(field) else "object"
        raise ConfigError(
            f"invalid setting {field} from {_source(field, clean) if match else 'the environment'}"
            f": not a JSON {kind} (e.g. {_EXAMPLE[kind]})"
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"]
        field = str(loc[0]) if loc else "settings"
        where = "".join(f"[{part!r}]" for part in loc[1:])  # an item of a list or JSON object
        raise ConfigError(
            f"invalid setting {field}{where} from {_source(field, clean)}: {_reason(first['msg'])}"
        ) from None


def misspelt_variables(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Warnings for ``SUPERSTORE_*`` variables that are no setting but nearly one.

    ``SUPERSTORE_WEB_PROT=9000`` would leave the port at its default without a
    word; refusing every unknown variable would break tools sharing the prefix
    (``SUPERSTORE_PYTHON`` of the Airflow DAG, test switches), so only a name
    close to a setting's is reported, as a warning.
    """
    known = {"SUPERSTORE_" + name.upper() for name in Settings.model_fields}
    known.add("SUPERSTORE_CONFIG")
    out = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("SUPERSTORE_") or upper in known:
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.85)
        if close:
            out.append(f"{name} is not a setting (did you mean {close[0]}?); ignored")
    return out


def _reason(msg: str) -> str:
    """pydantic's message, read as the end of our sentence (never the value: it may be secret)."""
    msg = msg.removeprefix("Value error, ")
    msg = re.sub(r"Input is not a valid path for <class '[\w.]+'>", "not a path", msg)
    return msg[0].lower() + msg[1:] if msg[:1].isupper() and msg[1:2].islower() else msg


_EXAMPLE = {"list": '["a", "b"]', "object": '{"key": "value"}'}


def _is_list(field: str) -> bool:
    return str(Settings.model_fields[field].annotation).startswith("list")


def _config_path() -> tuple[Path, bool]:
    """The TOML file to read and whether it must exist (named by SUPERSTORE_CONFIG)."""
    named = os.environ.get("SUPERSTORE_CONFIG")
    return (Path(named), True) if named else (Path("superstore.toml"), False)


def _source(field: str, overrides: dict[str, Any]) -> str:
    """Where a field's value came from, the way a user would look for it."""
    if field in overrides:
        return "--" + field.replace("_", "-")
    env = "SUPERSTORE_" + field.upper()
    if env in {k.upper() for k in os.environ}:
        return env
    try:
        in_file = field in _read_toml(set(Settings.model_fields))
    except ConfigError:
        in_file = False
    return str(_config_path()[0]) if in_file else f"{env} in .env"


def _read_toml(fields: set[str]) -> dict[str, Any]:
    """The TOML file's settings; unreadable files and unknown keys are refused.

    A misspelt key (``web_prot``) would otherwise be ignored and the default
    used without a word, so it is an error that suggests the close name.
    """
    path, required = _config_path()
    if not path.exists() and not required:
        return {}
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"SUPERSTORE_CONFIG names {path}, which does not exist") from None
    except OSError as exc:
        named = " (SUPERSTORE_CONFIG)" if required else ""
        raise ConfigError(f"cannot read {path}{named}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start}): not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            raise ConfigError(
                f"unknown setting {key} in {path}"
                + (f" (did you mean {close[0]}?)" if close else "")
            )
    return data
