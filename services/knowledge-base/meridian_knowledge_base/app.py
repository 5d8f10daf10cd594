"""Composition root of knowledge-base."""

from __future__ import annotations

from pathlib import Path

from meridian.runtime.parts import Infra, ServiceParts
from meridian.service import ServiceKit

from meridian_knowledge_base.api import articles
from meridian_knowledge_base.consumers import SUBSCRIPTIONS
from meridian_knowledge_base.settings import KnowledgeBaseSettings
from meridian_knowledge_base.tables import outbox, processed_events
from meridian_knowledge_base.uow import KnowledgeBaseUow

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(infra: Infra, settings: KnowledgeBaseSettings | None = None) -> ServiceParts:
    settings = settings or KnowledgeBaseSettings(platform=infra.platform)
    kit = ServiceKit(name="knowledge-base", schema="knowledge_base", infra=infra, uow_class=KnowledgeBaseUow,
                     outbox=outbox, processed=processed_events, migrations=MIGRATIONS)
    app = kit.app(title="Knowledge base", description="Multilingual, versioned articles and full-text search.")
    app.state.knowledge_base_settings = settings
    app.include_router(articles.router, prefix="/api/v1")
    return kit.parts(app, SUBSCRIPTIONS)
