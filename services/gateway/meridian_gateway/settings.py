"""Gateway settings: ``MERIDIAN_GATEWAY_*`` on top of the platform settings."""

from __future__ import annotations

from meridian.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict

DEFAULT_REGIONS = ("eu", "us", "sg", "uk", "au", "br", "in", "jp")


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_GATEWAY_", extra="ignore")

    # MERIDIAN_GATEWAY_ALLOWED_REGIONS (JSON list)
    allowed_regions: list[str] = Field(default_factory=lambda: list(DEFAULT_REGIONS))
    auth_cache_ttl: float = Field(30.0, ge=0)            # MERIDIAN_GATEWAY_AUTH_CACHE_TTL: key hash -> tenant (s)
    auth_cache_size: int = Field(10_000, ge=1)           # MERIDIAN_GATEWAY_AUTH_CACHE_SIZE
    max_webhook_bytes: int = Field(1_048_576, ge=1)      # MERIDIAN_GATEWAY_MAX_WEBHOOK_BYTES (1 MiB)
    max_api_body_bytes: int = Field(10_485_760, ge=1)    # MERIDIAN_GATEWAY_MAX_API_BODY_BYTES (10 MiB)
    idempotency_ttl: float = Field(86_400.0, gt=0)       # MERIDIAN_GATEWAY_IDEMPOTENCY_TTL: records expire (s)
    idempotency_in_flight_timeout: float = Field(60.0, gt=0)  # a claim older than this is taken over
    openapi_timeout: float = Field(5.0, gt=0)            # MERIDIAN_GATEWAY_OPENAPI_TIMEOUT (per owner)
    ws_auth_timeout: float = Field(5.0, gt=0)            # MERIDIAN_GATEWAY_WS_AUTH_TIMEOUT: first-message auth (s)
    ws_heartbeat: float = Field(20.0, gt=0)              # MERIDIAN_GATEWAY_WS_HEARTBEAT: ping frame interval (s)
    ws_queue_size: int = Field(1_000, ge=1)              # MERIDIAN_GATEWAY_WS_QUEUE_SIZE: frames per connection
    ws_max_event_age: float = Field(300.0, gt=0)        # MERIDIAN_GATEWAY_WS_MAX_EVENT_AGE: older events are not pushed
    ws_replay_size: int = Field(1_000, ge=1)             # MERIDIAN_GATEWAY_WS_REPLAY_SIZE: frames kept per tenant
