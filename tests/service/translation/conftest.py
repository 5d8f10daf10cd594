"""Translation on its real PostgreSQL schema + MemoryBus, with the real (offline) detector."""

from __future__ import annotations

import uuid

import pytest
from meridian.contracts.ingest import messages_v1_pb2 as ingest_v1
from meridian.events.envelope import EventMeta
from meridian_translation.app import build

from tests.support.service import running_service

TRANSLATED = "translation.messages.v1"


@pytest.fixture(scope="session")
async def translation():
    async with running_service(build) as svc:
        yield svc


def received(text: str, *, inbox_id: str | None = None) -> ingest_v1.MessageReceived:
    return ingest_v1.MessageReceived(inbox_id=inbox_id or str(uuid.uuid4()), channel="api",
                                     external_id=f"ext-{uuid.uuid4()}", thread_id="cust-1",
                                     sender=ingest_v1.Sender(id="cust-1"), text=text)


def key_of(event: ingest_v1.MessageReceived) -> str:
    return f"{event.inbox_id}:{event.thread_id}"


async def publish_received(svc, tenant_id, text: str, **kwargs) -> EventMeta:
    event = received(text, **kwargs)
    return await svc.publish(event, key=key_of(event), tenant_id=tenant_id, source="ingest")


def translated(svc) -> dict:
    """Translation's MessageTranslated events by the id of the MessageReceived they detect."""
    return {m.received_event_id: (meta, m) for meta, m in svc.events(TRANSLATED)}
