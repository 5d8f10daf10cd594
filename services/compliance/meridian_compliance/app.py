"""Composition root of compliance."""

from __future__ import annotations

from pathlib import Path

from meridian.runtime.parts import Infra, ServiceParts
from meridian.service import ServiceKit

from meridian_compliance.api import audit_events
from meridian_compliance.consumers import SUBSCRIPTIONS
from meridian_compliance.settings import ComplianceSettings
from meridian_compliance.tables import outbox, processed_events
from meridian_compliance.uow import ComplianceUow

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(infra: Infra, settings: ComplianceSettings | None = None) -> ServiceParts:
    settings = settings or ComplianceSettings(platform=infra.platform)
    kit = ServiceKit(name="compliance", schema="compliance", infra=infra, uow_class=ComplianceUow,
                     outbox=outbox, processed=processed_events, migrations=MIGRATIONS)
    app = kit.app(title="Compliance", description="Tamper-evident audit log (per-tenant hash chain).")
    app.state.compliance_settings = settings
    app.include_router(audit_events.router, prefix="/api/v1")
    return kit.parts(app, SUBSCRIPTIONS)
