"""Proto <-> gateway: TenantCreated out; ticket/routing events in, as WebSocket frames."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from google.protobuf.message import Message
from meridian.contracts.gateway import tenants_v1_pb2 as tenants_v1
from meridian.contracts.routing import agents_v1_pb2 as agents_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1

from meridian_gateway.domain.model import Tenant


def tenant_created(tenant: Tenant) -> tenants_v1.TenantCreated:
    msg = tenants_v1.TenantCreated(tenant_id=str(tenant.id), name=tenant.name, region=tenant.region)
    msg.created_at.FromDatetime(tenant.created_at)
    return msg


def _ts(msg: Message, name: str) -> str | None:
    if not msg.HasField(name):
        return None
    return getattr(msg, name).ToDatetime(tzinfo=UTC).isoformat()


def _opt(value: str) -> str | None:
    return value or None


def _direction(value: int) -> str | None:
    if value == messages_v1.DIRECTION_UNSPECIFIED:
        return None
    return messages_v1.Direction.Name(value).removeprefix("DIRECTION_").lower()


def message_created(m: messages_v1.MessageCreated) -> dict[str, Any]:
    return {
        "id": m.message_id,
        "conversation_id": m.conversation_id,
        "inbox_id": _opt(m.inbox_id),
        "contact_id": _opt(m.contact_id),
        "direction": _direction(m.direction),
        "text": m.text,
        "language": _opt(m.language),
        "status": m.status,
        "sender_agent_id": _opt(m.sender_agent_id),
        "external_id": _opt(m.external_id),
        "created_at": _ts(m, "created_at"),
    }


def message_updated(m: messages_v1.MessageUpdated) -> dict[str, Any]:
    return {
        "id": m.message_id,
        "conversation_id": m.conversation_id,
        "status": m.status,
        "language": _opt(m.language),
        "error": _opt(m.error),
        "updated_at": _ts(m, "updated_at"),
    }


def conversation_opened(m: conversations_v1.ConversationOpened) -> dict[str, Any]:
    return {
        "id": m.conversation_id,
        "inbox_id": _opt(m.inbox_id),
        "contact_id": _opt(m.contact_id),
        "status": m.status,
        "language": _opt(m.language),
        "assignee_agent_id": None,
        "changed_fields": [],
        "updated_at": _ts(m, "created_at"),
    }


def conversation_updated(m: conversations_v1.ConversationUpdated) -> dict[str, Any]:
    return {
        "id": m.conversation_id,
        "inbox_id": _opt(m.inbox_id),
        "contact_id": _opt(m.contact_id),
        "status": m.status,
        "language": _opt(m.language),
        "assignee_agent_id": _opt(m.assignee_agent_id),
        "changed_fields": list(m.changed_fields),
        "updated_at": _ts(m, "updated_at"),
    }


def ticket_assigned(m: tickets_v1.TicketAssigned) -> dict[str, Any]:
    return {
        "ticket_id": m.ticket_id,
        "conversation_id": m.conversation_id,
        "assignee_agent_id": _opt(m.assignee_agent_id),
        "assigned_at": _ts(m, "assigned_at"),
    }


def presence_updated(m: agents_v1.AgentPresenceChanged) -> dict[str, Any]:
    return {"agent_id": m.agent_id, "status": m.status, "changed_at": _ts(m, "changed_at")}


# event class -> (WS frame type, data builder)
FRAMES: dict[type[Message], tuple[str, Any]] = {
    messages_v1.MessageCreated: ("message.created", message_created),
    messages_v1.MessageUpdated: ("message.updated", message_updated),
    conversations_v1.ConversationOpened: ("conversation.updated", conversation_opened),
    conversations_v1.ConversationUpdated: ("conversation.updated", conversation_updated),
    tickets_v1.TicketAssigned: ("ticket.assigned", ticket_assigned),
    agents_v1.AgentPresenceChanged: ("presence.updated", presence_updated),
}


def ws_frame(event_id: str, message: Message) -> dict[str, Any] | None:
    """The WebSocket frame of an event, None for event types clients are not sent."""
    spec = FRAMES.get(type(message))
    if spec is None:
        return None
    frame_type, build = spec
    return {"id": event_id, "type": frame_type, "data": build(message)}
