"""Ticket's commands (what the REST API asks of the use cases)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from meridian_ticket.domain.model import ConversationStatus


@dataclass(frozen=True, slots=True)
class UpdateConversation:
    tenant_id: UUID
    actor: str
    conversation_id: UUID
    status: ConversationStatus | None = None
    assign: bool = False                      # True when the request sets assignee_agent_id (maybe to None)
    assignee_agent_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class SendReply:
    tenant_id: UUID
    actor: str
    conversation_id: UUID
    text: str
