"""Translation on its real PostgreSQL schema + MemoryBus, with the real (offline) detector."""

from __future__ import annotations

import uuid

import pytest
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian_translation.app import build

from tests.support.service import running_service

TRANSLATED = "translation.messages.v1"


@pytest.fixture(scope="session")
async def translation():
    async with running_service(build) as svc:
        yield svc


def threaded(text: str, *, message_id: str | None = None, conversation_id: str | None = None
             ) -> messages_v1.MessageThreaded:
    return messages_v1.MessageThreaded(message_id=message_id or str(uuid.uuid4()),
                                       conversation_id=conversation_id or str(uuid.uuid4()),
                                       inbox_id=str(uuid.uuid4()), text=text)


async def publish_threaded(svc, tenant_id, text: str, **kwargs) -> messages_v1.MessageThreaded:
    event = threaded(text, **kwargs)
    await svc.publish(event, key=event.conversation_id, tenant_id=tenant_id, source="ticket")
    return event


def translated(svc) -> dict:
    return {m.message_id: (meta, m) for meta, m in svc.events(TRANSLATED)}
