"""Composition root of ticket."""

from __future__ import annotations

from pathlib import Path

from meridian.runtime.parts import Infra, ServiceParts
from meridian.service import ServiceKit

from meridian_ticket.api import contacts, conversations, tickets
from meridian_ticket.consumers import SUBSCRIPTIONS
from meridian_ticket.language_deadline import LanguageDeadline
from meridian_ticket.settings import TicketSettings
from meridian_ticket.tables import outbox, processed_events
from meridian_ticket.uow import TicketUow

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(infra: Infra, settings: TicketSettings | None = None) -> ServiceParts:
    settings = settings or TicketSettings(platform=infra.platform)
    kit = ServiceKit(name="ticket", schema="ticket", infra=infra, uow_class=TicketUow, outbox=outbox,
                     processed=processed_events, migrations=MIGRATIONS, pool_size=10)
    app = kit.app(title="Ticket", description="Contacts, conversations, messages and tickets.")
    app.state.ticket_settings = settings
    app.include_router(conversations.router, prefix="/api/v1")
    app.include_router(contacts.router, prefix="/api/v1")
    app.include_router(tickets.router, prefix="/api/v1")
    deadline = LanguageDeadline(kit.uow, wait=settings.language_wait, poll_interval=settings.language_poll_interval)
    return kit.parts(app, SUBSCRIPTIONS, tasks=[deadline.run])
