"""Routing settings: ``MERIDIAN_ROUTING_*`` on top of the platform settings."""

from __future__ import annotations

from meridian.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class RoutingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_ROUTING_", extra="ignore")
