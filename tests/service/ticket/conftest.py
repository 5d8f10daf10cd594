"""Ticket on its real PostgreSQL schema + MemoryBus; small factories for the events it consumes."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.ingest import messages_v1_pb2 as ingest_v1
from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.translation import messages_v1_pb2 as translation_v1
from meridian_ticket.app import build

from tests.support.service import running_service

CONVERSATIONS = "ticket.conversations.v1"
TICKETS = "ticket.tickets.v1"
MESSAGES = "ticket.messages.v1"
OUTBOUND = "ticket.outbound.v1"
AUDIT = "ticket.audit.v1"


@pytest.fixture(scope="session")
async def ticket():
    async with running_service(build) as svc:
        yield svc


def received(inbox_id: uuid.UUID | str, *, sender_id: str = "cust-1", text: str = "Hola, ¿dónde está mi pedido?",
             external_id: str | None = None, name: str = "Ana", email: str = "", phone: str = "",
             channel: str = "api") -> ingest_v1.MessageReceived:
    msg = ingest_v1.MessageReceived(
        inbox_id=str(inbox_id), channel=channel, external_id=external_id or f"ext-{uuid.uuid4()}",
        thread_id=sender_id, sender=ingest_v1.Sender(id=sender_id, name=name, email=email, phone=phone), text=text)
    msg.sent_at.GetCurrentTime()
    msg.received_at.GetCurrentTime()
    return msg


async def receive(svc, tenant, msg: ingest_v1.MessageReceived):
    meta = await svc.publish(msg, key=f"{msg.inbox_id}:{msg.thread_id}", tenant_id=tenant)
    await svc.drained()
    return meta


def events(svc, topic: str, cls=None, tenant=None):
    out = [(meta, m) for meta, m in svc.events(topic) if cls is None or isinstance(m, cls)]
    if tenant is not None:
        out = [(meta, m) for meta, m in out if meta.tenant_id == str(tenant)]
    return out


async def stored_messages(svc, tenant=None) -> list:
    """The inbound messages ticket stored (of ``tenant`` if given), oldest first: ``message_id``,
    ``conversation_id``, ``inbox_id``, ``text``."""
    from meridian_ticket.tables import messages
    from sqlalchemy import select

    c = messages.c
    query = select(c.id.label("message_id"), c.conversation_id, c.inbox_id, c.text).where(c.direction == "inbound")
    if tenant is not None:
        query = query.where(c.tenant_id == uuid.UUID(str(tenant)))
    async with svc.kit.engine.connect() as conn:
        rows = (await conn.execute(query.order_by(c.created_at, c.id))).all()
    return [SimpleNamespace(**{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in r._mapping.items()})
            for r in rows]


async def received_event_of(svc, message_id: str) -> str:
    """The id of the MessageReceived that ticket stored as ``message_id``, while its language is
    still to come (its half in ``inbound_languages``); a new id for a message ticket never stored."""
    from meridian_ticket.tables import inbound_languages
    from sqlalchemy import select

    async with svc.kit.engine.connect() as conn:
        found = await conn.scalar(select(inbound_languages.c.received_event_id).where(
            inbound_languages.c.message_id == uuid.UUID(message_id)))
    return str(found or uuid.uuid4())


def detected(received_event_id: str, language: str = "es") -> translation_v1.MessageTranslated:
    """Translation's detection of the MessageReceived ``received_event_id``."""
    return translation_v1.MessageTranslated(received_event_id=received_event_id, detected_language=language,
                                            confidence=0.9)


async def translate(svc, tenant, message_id: str, language: str = "es"):
    """Translation's detection of the message ticket threaded as ``message_id``, published after it."""
    received_event_id = await received_event_of(svc, message_id)
    await svc.publish(detected(received_event_id, language), key=received_event_id, tenant_id=tenant)
    await svc.drained()


async def assign(svc, tenant, conversation_id: str, agent_id: uuid.UUID | None = None,
                 target=assignments_v1.ASSIGNMENT_TARGET_AGENT):
    msg = assignments_v1.AssignmentDecided(conversation_id=conversation_id, target=target,
                                           agent_id=str(agent_id) if agent_id else "", reason="language:es")
    await svc.publish(msg, key=conversation_id, tenant_id=tenant)
    await svc.drained()


async def deliver(svc, tenant, message_id: str, conversation_id: str, status, error: str = ""):
    msg = deliveries_v1.DeliveryUpdated(message_id=message_id, conversation_id=conversation_id, status=status,
                                        attempts=1, error=error)
    await svc.publish(msg, key=conversation_id, tenant_id=tenant)
    await svc.drained()


async def get_json(svc, tenant, path: str, **params):
    r = await svc.client.get(path, headers=svc.headers(tenant), params=params)
    assert r.status_code == 200, r.text
    return r.json()

