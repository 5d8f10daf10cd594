"""Domain ↔ proto."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from meridian.contracts.routing import agents_v1_pb2 as agents_v1
from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1

from meridian_routing.domain.errors import ConversationEventInvalid
from meridian_routing.domain.model import Agent, ConversationSnapshot


def assigned_to_agent(conversation_id: UUID, agent_id: UUID, reason: str, at: datetime
                      ) -> assignments_v1.AssignmentDecided:
    event = assignments_v1.AssignmentDecided(conversation_id=str(conversation_id),
                                             target=assignments_v1.ASSIGNMENT_TARGET_AGENT, agent_id=str(agent_id),
                                             reason=reason)
    event.decided_at.FromDatetime(at)
    return event


def queued(conversation_id: UUID, reason: str, at: datetime) -> assignments_v1.AssignmentDecided:
    event = assignments_v1.AssignmentDecided(conversation_id=str(conversation_id),
                                             target=assignments_v1.ASSIGNMENT_TARGET_QUEUE, reason=reason)
    event.decided_at.FromDatetime(at)
    return event


def presence_changed(agent: Agent, at: datetime) -> agents_v1.AgentPresenceChanged:
    event = agents_v1.AgentPresenceChanged(agent_id=str(agent.id), status=agent.status.value)
    event.changed_at.FromDatetime(at)
    return event


def _uuid(value: str, field: str, required: bool = True) -> UUID | None:
    if not value and not required:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise ConversationEventInvalid(f"{field} must be a UUID",
                                       errors=[{"field": field, "message": "must be a UUID"}]) from None


def snapshot(message: conversations_v1.ConversationOpened | conversations_v1.ConversationUpdated,
             tenant_id: str) -> ConversationSnapshot:
    tenant = _uuid(tenant_id, "ce_tenant")
    conversation = _uuid(message.conversation_id, "conversation_id")
    assert tenant is not None and conversation is not None
    if isinstance(message, conversations_v1.ConversationUpdated):
        assignee = _uuid(message.assignee_agent_id, "assignee_agent_id", required=False)
        at = message.updated_at.ToDatetime(tzinfo=UTC) if message.HasField("updated_at") else None
    else:
        assignee = None
        at = message.created_at.ToDatetime(tzinfo=UTC) if message.HasField("created_at") else None
    return ConversationSnapshot(tenant_id=tenant, conversation_id=conversation, inbox_id=message.inbox_id,
                                status=message.status.strip().lower(), language=message.language.strip().lower(),
                                assignee_agent_id=assignee, updated_at=at)
