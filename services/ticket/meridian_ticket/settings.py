"""Ticket settings: ``MERIDIAN_TICKET_*`` on top of the platform settings."""

from __future__ import annotations

from meridian.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class TicketSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_TICKET_", extra="ignore")

    # MERIDIAN_TICKET_LANGUAGE_WAIT: seconds an inbound message waits for its detected language before
    # it is announced with the undetermined one (meridian_ticket.language_deadline)
    language_wait: float = Field(60.0, gt=0)
    language_poll_interval: float = Field(5.0, gt=0)  # MERIDIAN_TICKET_LANGUAGE_POLL_INTERVAL (seconds)
