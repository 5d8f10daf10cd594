"""Ticket rules: one ticket per conversation, opened with it (status open, priority normal); its
assignee follows the conversation's, and its status follows the conversation's status."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from meridian_ticket.domain.model import Conversation, ConversationStatus, Ticket, TicketStatus

DEFAULT_PRIORITY = "normal"

_STATUS_FOR: dict[ConversationStatus, TicketStatus] = {
    ConversationStatus.OPEN: TicketStatus.OPEN,
    ConversationStatus.RESOLVED: TicketStatus.SOLVED,
    ConversationStatus.CLOSED: TicketStatus.CLOSED,
}


def open_ticket(ticket_id: UUID, conversation: Conversation, now: datetime) -> Ticket:
    return Ticket(id=ticket_id, tenant_id=conversation.tenant_id, conversation_id=conversation.id,
                  status=TicketStatus.OPEN, priority=DEFAULT_PRIORITY, assignee_agent_id=conversation.assignee_agent_id,
                  opened_at=now, updated_at=now)


def follow_conversation(ticket: Ticket, conversation: Conversation, now: datetime) -> Ticket:
    """The ticket after its conversation changed status or assignee."""
    status = _STATUS_FOR[conversation.status]
    if status is ticket.status and ticket.assignee_agent_id == conversation.assignee_agent_id:
        return ticket
    return replace(ticket, status=status, assignee_agent_id=conversation.assignee_agent_id, updated_at=now)


def is_assignment(before: Ticket, after: Ticket) -> bool:
    """True when the ticket got a (new) assignee: a TicketAssigned event is due."""
    return after.assignee_agent_id is not None and after.assignee_agent_id != before.assignee_agent_id
