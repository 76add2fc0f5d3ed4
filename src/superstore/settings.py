"""Settings: one frozen object, read once at the CLI edge and passed down.

Sources, highest priority first: explicit overrides (CLI flags), environment
variables with prefix ``SUPERSTORE_``, a ``.env`` file, then ``superstore.toml``
in the working directory (or the file named by ``SUPERSTORE_CONFIG``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from superstore.errors import ConfigError

__all__ = ["Settings", "load_settings"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
WebRole = Literal["viewer", "analyst", "admin"]
_DEFAULT_ROLES: dict[str, WebRole] = {"viewer": "viewer", "analyst": "analyst", "admin": "admin"}


class Settings(BaseSettings):
    """Every knob of the pipeline. Field ``x`` is read from ``SUPERSTORE_X``."""

    model_config = SettingsConfigDict(
        env_prefix="SUPERSTORE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        toml_file="superstore.toml",
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
    topic: str = "sales.lines"
    dlq_topic: str = "sales.lines.dlq"
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
        5.0, gt=0, le=3600, description="Seconds between syncs of the day still being written."
    )

    # Operations (`superstore run`, `check`, alerts, metrics).
    alert_webhook_url: SecretStr | None = Field(None, description="Slack-compatible webhook.")
    alert_smtp_host: str = ""
    alert_smtp_port: int = 25
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
        "00:15", pattern=r"^\d{2}:\d{2}$", description="Local time the finished day is exported."
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
        toml_path = os.environ.get("SUPERSTORE_CONFIG", "superstore.toml")
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_path),
        )

    @property
    def warehouse_dsn_value(self) -> str | None:
        """The warehouse DSN in clear, for drivers only (never log it)."""
        return self.warehouse_dsn.get_secret_value() if self.warehouse_dsn else None

    @property
    def pg_dsn_value(self) -> str | None:
        """The DSN in clear, for drivers only (never log it)."""
        return self.pg_dsn.get_secret_value() if self.pg_dsn else None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; turn validation errors into one clear ConfigError."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"invalid setting {field}: {first['msg']}",
            hint=f"check SUPERSTORE_{field.upper()} or superstore.toml",
        ) from exc
