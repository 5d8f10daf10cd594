"""Ticket settings: ``MERIDIAN_TICKET_*`` on top of the platform settings."""

from __future__ import annotations

from meridian.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class TicketSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_TICKET_", extra="ignore")
