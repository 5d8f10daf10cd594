"""Ingest settings: ``MERIDIAN_INGEST_*`` on top of the platform settings."""

from __future__ import annotations

from meridian.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_INGEST_", extra="ignore")

    # inbound webhooks
    max_body_bytes: int = Field(1_048_576, ge=1)          # MERIDIAN_INGEST_MAX_BODY_BYTES (1 MiB)
    batch_size: int = Field(200, ge=1)                    # MERIDIAN_INGEST_BATCH_SIZE: webhooks per group commit
    secret_cache_ttl: float = Field(30.0, ge=0)           # MERIDIAN_INGEST_SECRET_CACHE_TTL (seconds)
    secret_cache_size: int = Field(10_000, ge=1)          # MERIDIAN_INGEST_SECRET_CACHE_SIZE (inboxes)
    # outbound delivery
    delivery_timeout: float = Field(5.0, gt=0)            # MERIDIAN_INGEST_DELIVERY_TIMEOUT (seconds per attempt)
    delivery_max_attempts: int = Field(5, ge=1)           # MERIDIAN_INGEST_DELIVERY_MAX_ATTEMPTS
    delivery_base_delay: float = Field(1.0, ge=0)         # MERIDIAN_INGEST_DELIVERY_BASE_DELAY (seconds)
    delivery_max_delay: float = Field(60.0, ge=0)         # MERIDIAN_INGEST_DELIVERY_MAX_DELAY (backoff cap)
    delivery_poll_interval: float = Field(0.5, gt=0)      # MERIDIAN_INGEST_DELIVERY_POLL_INTERVAL
    delivery_concurrency: int = Field(32, ge=1)           # MERIDIAN_INGEST_DELIVERY_CONCURRENCY (in-flight POSTs)
    delivery_lease: float = Field(60.0, gt=0)             # MERIDIAN_INGEST_DELIVERY_LEASE: a claimed row's lock time
