"""Composition root of routing."""

from __future__ import annotations

from pathlib import Path

from meridian.runtime.parts import Infra, ServiceParts
from meridian.service import ServiceKit

from meridian_routing.api import agents, queue
from meridian_routing.consumers import SUBSCRIPTIONS
from meridian_routing.settings import RoutingSettings
from meridian_routing.tables import outbox, processed_events
from meridian_routing.uow import RoutingUow

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(infra: Infra, settings: RoutingSettings | None = None) -> ServiceParts:
    settings = settings or RoutingSettings(platform=infra.platform)
    kit = ServiceKit(name="routing", schema="routing", infra=infra, uow_class=RoutingUow, outbox=outbox,
                     processed=processed_events, migrations=MIGRATIONS)
    app = kit.app(title="Routing", description="Agents (languages, time zone, capacity, presence), the queue "
                                               "and assignment decisions.")
    app.state.routing_settings = settings
    app.include_router(agents.router, prefix="/api/v1")
    app.include_router(queue.router, prefix="/api/v1")
    return kit.parts(app, SUBSCRIPTIONS)
