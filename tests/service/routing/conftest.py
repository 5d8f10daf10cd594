"""Routing on its real PostgreSQL schema + MemoryBus."""

from __future__ import annotations

import uuid

import pytest
from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian_routing.app import build

from tests.support.service import running_service

ASSIGNMENTS = "routing.assignments.v1"


@pytest.fixture(scope="session")
async def routing():
    async with running_service(build) as svc:
        yield svc


async def make_agent(svc, tenant_id, *, languages=("en",), capacity=3, online=True, name="Ana", email=None,
                     timezone="Europe/Madrid") -> dict:
    r = await svc.client.post("/api/v1/agents", headers=svc.headers(tenant_id), json={
        "name": name, "email": email or f"{uuid.uuid4().hex[:8]}@shop.example", "languages": list(languages),
        "timezone": timezone, "capacity": capacity})
    assert r.status_code == 201, r.text
    agent = r.json()
    if online:
        agent = await set_presence(svc, tenant_id, agent["id"], "online")
    return agent


async def set_presence(svc, tenant_id, agent_id, status) -> dict:
    r = await svc.client.put(f"/api/v1/agents/{agent_id}/presence", headers=svc.headers(tenant_id),
                             json={"status": status})
    assert r.status_code == 200, r.text
    return r.json()


async def get_agent(svc, tenant_id, agent_id) -> dict:
    r = await svc.client.get(f"/api/v1/agents/{agent_id}", headers=svc.headers(tenant_id))
    assert r.status_code == 200, r.text
    return r.json()


async def open_conversation(svc, tenant_id, *, language="", conversation_id=None, inbox_id=None) -> str:
    cid = conversation_id or str(uuid.uuid4())
    await svc.publish(conversations_v1.ConversationOpened(
        conversation_id=cid, inbox_id=inbox_id or str(uuid.uuid4()), contact_id=str(uuid.uuid4()), channel="api",
        status="open", language=language), key=cid, tenant_id=tenant_id, source="ticket")
    return cid


def conversation_updated(cid, *, status="open", language="", assignee="", changed=(),
                         inbox_id="") -> conversations_v1.ConversationUpdated:
    return conversations_v1.ConversationUpdated(conversation_id=cid, inbox_id=inbox_id, status=status,
                                                language=language, assignee_agent_id=assignee,
                                                changed_fields=list(changed))


async def update_conversation(svc, tenant_id, cid, **kwargs):
    return await svc.publish(conversation_updated(cid, **kwargs), key=cid, tenant_id=tenant_id, source="ticket")


def decisions(svc, cid: str | None = None) -> list[assignments_v1.AssignmentDecided]:
    found = [m for _, m in svc.events(ASSIGNMENTS)]
    return [m for m in found if cid is None or m.conversation_id == cid]


async def apply_decisions(svc, tenant_id):
    """Play ticket's part: apply every AGENT decision as ConversationUpdated(assignee)."""
    for meta, m in svc.events(ASSIGNMENTS):
        if m.target == assignments_v1.ASSIGNMENT_TARGET_AGENT and meta.tenant_id == str(tenant_id):
            await update_conversation(svc, tenant_id, m.conversation_id, language="es", assignee=m.agent_id,
                                      changed=["assignee_agent_id"])
    await svc.drained()
