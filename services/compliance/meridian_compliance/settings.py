"""Compliance settings: ``MERIDIAN_COMPLIANCE_*`` on top of the platform settings."""

from __future__ import annotations

from meridian.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class ComplianceSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_COMPLIANCE_", extra="ignore")
