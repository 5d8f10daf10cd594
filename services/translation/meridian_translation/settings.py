"""Translation settings: ``MERIDIAN_TRANSLATION_*`` on top of the platform settings."""

from __future__ import annotations

from typing import Literal

from meridian.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from meridian_translation.domain.detection import (
    DEFAULT_LANGUAGES,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_MIN_LETTERS,
    parse_languages,
)


class TranslationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_TRANSLATION_", extra="ignore")

    # MERIDIAN_TRANSLATION_LANGUAGES: comma-separated ISO 639-1 codes the detector chooses among
    languages: str = ",".join(DEFAULT_LANGUAGES)
    # MERIDIAN_TRANSLATION_ACCURACY: "low" ≈ +21 MB RSS of models, "high" ≈ +286 MB (better on very short texts)
    accuracy: Literal["high", "low"] = "low"
    # MERIDIAN_TRANSLATION_MIN_CONFIDENCE: below this the language is "und"
    min_confidence: float = Field(DEFAULT_MIN_CONFIDENCE, ge=0, le=1)
    # MERIDIAN_TRANSLATION_MIN_LETTERS: texts with fewer letters are "und"
    min_letters: int = Field(DEFAULT_MIN_LETTERS, ge=1)
    # MERIDIAN_TRANSLATION_MAX_CHARS: only the start of a long message is detected
    max_chars: int = Field(1000, ge=10)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: str) -> str:
        return ",".join(parse_languages(value))

    @property
    def language_codes(self) -> tuple[str, ...]:
        return parse_languages(self.languages)
