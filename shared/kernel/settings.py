"""Typed settings for a service process, read from the environment (prefix ``KOTAKU_``).

Settings are built by :func:`load_settings` when a process starts, never at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.kernel.topics import DEFAULT_INTAKE_RETENTION_DAYS, DEFAULT_REJECTIONS_RETENTION_DAYS, RetentionPolicy

REGION_PATTERN = r"^oc\d{2}$"
_REGION_RE = re.compile(REGION_PATTERN)


class KafkaSettings(BaseSettings):
    """How to reach the Kafka cluster, and as whom: what every Kafka client of the project needs
    (services, rebuild, DLQ tool, lag monitor, topic admin, bench), read by shared.kernel.kafka."""

    model_config = SettingsConfigDict(env_prefix="KOTAKU_", extra="ignore")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="comma-separated host:port list")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle for TLS listeners")

    @property
    def kafka_servers(self) -> list[str]:
        return [server.strip() for server in self.kafka_bootstrap.split(",") if server.strip()]


def load_kafka_settings(bootstrap: str | None = None) -> KafkaSettings:
    """Kafka settings from the environment; ``bootstrap`` (a command-line option) wins."""
    return KafkaSettings(kafka_bootstrap=bootstrap) if bootstrap else KafkaSettings()


class Settings(KafkaSettings):
    """Everything a service needs to know about its surroundings."""

    database_url: SecretStr = Field(description="asyncpg DSN of the service's own database role")
    regions: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["oc02"],
        description="OC regions this deployment serves (comma separated in the environment)",
    )
    topic_prefix: str = Field(
        default="",
        description="Namespace put before every topic name (e.g. 'staging.'); empty in production",
    )
    process_role: Literal["all", "api", "consumers"] = Field(
        default="all",
        description=(
            "what this process runs: 'api' (HTTP routes only), 'consumers' (the consumers of KOTAKU_REGIONS, "
            "the outbox relay and dedupe pruning, with /health, /ready and /metrics), or 'all' of it"
        ),
    )
    consumers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "which of the service's consumers a consuming process runs, by name (comma separated, e.g. "
            "'reporting.xapi'); empty: all of them"
        ),
    )
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(default=None, description="defaults to the service's own port")
    consumer_max_records: int = Field(default=500, ge=1, le=10_000)
    consumer_poll_ms: int = Field(
        default=25, ge=1, le=5000, description="how long one poll of a consumer waits for records"
    )
    consumer_fetch_max_wait_ms: int = Field(default=500, ge=1, le=5000, description="broker-side fetch wait")
    consumer_backlog_duty: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description=(
            "share of the time a consumer working off a backlog (KOTAKU_CONSUMER_BACKLOG_EVENTS behind) may spend on "
            "it; below 1 it pauses after each such batch, so one region's backlog leaves shared cores to the others"
        ),
    )
    consumer_backlog_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description=(
            "how many steps lower (nice) a consuming process runs while one of its consumers works off a backlog; "
            "0: never. Needs CAP_SYS_NICE to step back, else it stays off"
        ),
    )
    consumer_backlog_events: int = Field(
        default=2000,
        ge=1,
        description="events behind its partitions' ends from which a consumer is working off a backlog (more than a "
        "training's burst)",
    )
    retry_attempts: int = Field(default=6, ge=1, description="attempts before a failing event is dead-lettered")
    retry_backoff_seconds: float = Field(default=0.5, gt=0)
    dedupe_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="how long processed_events remembers an event id (docs/architecture.md, 'Deduplication window')",
    )
    outbox_batch_size: int = Field(default=500, ge=1)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    nik_hash_key: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "HMAC key for national ID numbers (registration only, which refuses to start without one of at least "
            "32 characters; the other services never read it)"
        ),
    )
    credentials_file: Path | None = Field(
        default=None, description="API credentials (JSON lines of hashed keys); without it every call is refused"
    )
    public_aggregates: bool = Field(default=True, description="reporting: serve counts and rates without a credential")
    public_base_url: str = Field(
        default="http://127.0.0.1:8002",
        pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$",
        max_length=200,
        description=(
            "training: where the public reaches the training service; certificates print "
            "<this>/certificates/<code> in their QR code (never taken from a request's Host header)"
        ),
    )
    report_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "reporting: a report is built at most once per this many seconds and served meanwhile; up to 5x as old "
            "it is served while one refresh runs (0: every request builds its report)"
        ),
    )
    rate_limit_per_second: float = Field(
        default=20.0,
        ge=0,
        le=100_000,
        description=(
            "requests per second a client address may send without a valid credential, sustained (its token "
            "bucket's refill); 0 turns the limit off. /health, /ready and /metrics are never limited"
        ),
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, le=1_000_000, description="how many such requests a client may send at once (bucket size)"
    )
    rate_limit_export_cost: float = Field(
        default=5.0,
        ge=1,
        le=1000,
        description="tokens a CSV or XLSX export (format=csv|xlsx) takes from the bucket; any other request takes 1",
    )
    xapi_lrs_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s]+)?$",
        max_length=500,
        description=(
            "reporting's xAPI forwarder: the LRS's xAPI endpoint, e.g. http://127.0.0.1:8100/xAPI (statements are "
            "posted to <this>/statements); empty: the forwarder refuses to start (docs/xapi.md)"
        ),
    )
    xapi_lrs_username: str = Field(default="", description="Basic auth user of the LRS")
    xapi_lrs_password: SecretStr = Field(default=SecretStr(""), description="Basic auth password of the LRS")
    xapi_batch_size: int = Field(default=100, ge=1, le=1000, description="statements per POST to the LRS")
    xapi_timeout_seconds: float = Field(default=10.0, gt=0, le=300, description="per request to the LRS")
    xapi_max_backoff_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="longest pause between retries while the LRS fails or is unreachable"
    )
    fault_points: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Crash points armed for failure tests; never set in production",
    )
    log_level: str = "INFO"

    @field_validator("regions", "fault_points", "consumers", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("regions")
    @classmethod
    def _check_regions(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not _REGION_RE.match(code)]
        if bad:
            raise ValueError(f"region codes must look like 'oc02': {bad}")
        if not value:
            raise ValueError("at least one region is required")
        return value


class RetentionSettings(BaseSettings):
    """How long the short-lived topic classes keep messages, read by whatever creates topics
    (``shared.tools.kafka_admin``). Canonical streams are kept forever: that is not a setting."""

    model_config = SettingsConfigDict(env_prefix="KOTAKU_", extra="ignore")

    intake_retention_days: int = Field(
        default=DEFAULT_INTAKE_RETENTION_DAYS,
        ge=1,
        le=90,
        description="intake topics and their dead-letter topics (they carry raw NIKs)",
    )
    rejections_retention_days: int = Field(
        default=DEFAULT_REJECTIONS_RETENTION_DAYS,
        ge=1,
        le=365,
        description="the rejections topic and its dead-letter topic",
    )

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy.of_days(self.intake_retention_days, self.rejections_retention_days)


def load_retention_policy(**overrides: object) -> RetentionPolicy:
    """The topic retention policy from the environment; keyword overrides win."""
    return RetentionSettings(**overrides).policy()  # type: ignore[arg-type]


def load_settings(**overrides: object) -> Settings:
    """Read the environment; keyword overrides win (used by tests)."""
    return Settings(**overrides)  # type: ignore[arg-type]
