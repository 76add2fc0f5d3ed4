"""Settings: one frozen object, read once at the CLI edge and passed down.

Sources, highest priority first: explicit overrides (CLI flags), environment
variables with prefix ``SUPERSTORE_``, a ``.env`` file, then ``superstore.toml``
in the working directory (or the file named by ``SUPERSTORE_CONFIG``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
