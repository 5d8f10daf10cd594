"""Composition root of translation."""

from __future__ import annotations

from pathlib import Path

from meridian.runtime.parts import Infra, ServiceParts
from meridian.service import ServiceKit

from meridian_translation.api import languages
from meridian_translation.consumers import subscriptions
from meridian_translation.detector import LanguageDetector
from meridian_translation.domain.detection import DetectionPolicy
from meridian_translation.settings import TranslationSettings
from meridian_translation.tables import outbox, processed_events
from meridian_translation.uow import TranslationUow

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(infra: Infra, settings: TranslationSettings | None = None) -> ServiceParts:
    settings = settings or TranslationSettings(platform=infra.platform)
    policy = DetectionPolicy(min_confidence=settings.min_confidence, min_letters=settings.min_letters,
                             max_chars=settings.max_chars)
    # the models load lazily, on the first detection
    detector = LanguageDetector(settings.language_codes, policy, settings.accuracy)
    kit = ServiceKit(name="translation", schema="translation", infra=infra, uow_class=TranslationUow,
                     outbox=outbox, processed=processed_events, migrations=MIGRATIONS)
    app = kit.app(title="Translation", description="Offline language detection of inbound messages.")
    app.state.translation_settings = settings
    app.state.detector = detector
    app.include_router(languages.router, prefix="/api/v1")
    return kit.parts(app, subscriptions(detector, kit.uow))
