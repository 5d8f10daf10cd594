"""Knowledge-base settings: ``MERIDIAN_KNOWLEDGE_BASE_*`` on top of the platform settings."""

from __future__ import annotations

from meridian.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class KnowledgeBaseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_KNOWLEDGE_BASE_", extra="ignore")
