"""Settings: one ``PlatformSettings`` read from ``MERIDIAN_*`` and one settings class per service.

Settings are built once in the process entry point and passed down; nothing else reads os.environ.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = ("gateway", "ingest", "ticket", "routing", "translation", "knowledge-base", "compliance")


class PlatformSettings(BaseSettings):
    """What every service of one deployment shares."""

    model_config = SettingsConfigDict(env_prefix="MERIDIAN_", extra="ignore")

    mode: Literal["embedded", "distributed"] = "embedded"
    data_dir: Path = Path("./data")
    data_region: str = "eu"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = None
    db_analyze_interval: float = 1.0  # seconds between a schema's planner statistics checks (0: off)
    kafka_bootstrap: str | None = None
    kafka_idempotence: bool = True
    kafka_partitions: int = 4
    kafka_replication_factor: int = 1
    kafka_session_timeout_ms: int = 10_000
    kafka_fetch_max_wait_ms: int = 20  # see KafkaBus: Tansu holds empty fetches; Apache Kafka wants 500
    kafka_background_fetch_max_wait_ms: int = 250  # subscriptions off the message's path (KafkaBus)
    # set by `run-distributed` when it restarted its memory-only broker: at start, the relays send
    # again what they had sent since then, which the lost broker held
    bus_resend_since: datetime | None = None
    # how many gateway processes `run-distributed` starts: on MERIDIAN_PORT and the ports after it
    gateway_processes: int = Field(1, ge=1)
    redis_url: str | None = None
    operator_token: str | None = None
    bootstrap_token: str | None = None
    internal_token: str | None = None
    secret_key: str | None = None
    service_urls: dict[str, str] = Field(default_factory=dict)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    seed_demo: bool = True


class ServiceSettings(BaseSettings):
    """Base of ``<Service>Settings``; extras of a service are read from ``MERIDIAN_<SERVICE>_*``."""

    model_config = SettingsConfigDict(extra="ignore")

    platform: PlatformSettings = Field(default_factory=PlatformSettings)
