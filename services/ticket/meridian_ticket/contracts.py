"""Domain → proto (the events ticket publishes) and proto → domain values (the events it consumes)."""

from __future__ import annotations

from datetime import datetime

from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import outbound_v1_pb2 as outbound_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1

from meridian_ticket.domain.model import Conversation, Direction, Message, MessageStatus, Ticket

DELIVERY_STATUS: dict[int, MessageStatus] = {
    deliveries_v1.DELIVERY_STATUS_SENT: MessageStatus.SENT,
    deliveries_v1.DELIVERY_STATUS_DELIVERED: MessageStatus.DELIVERED,
    deliveries_v1.DELIVERY_STATUS_READ: MessageStatus.READ,
    deliveries_v1.DELIVERY_STATUS_FAILED: MessageStatus.FAILED,
}

_DIRECTION = {Direction.INBOUND: messages_v1.DIRECTION_INBOUND, Direction.OUTBOUND: messages_v1.DIRECTION_OUTBOUND}


def _s(value: object | None) -> str:
    return "" if value is None else str(value)


def conversation_opened(c: Conversation) -> conversations_v1.ConversationOpened:
    event = conversations_v1.ConversationOpened(conversation_id=str(c.id), inbox_id=str(c.inbox_id),
                                                contact_id=str(c.contact_id), channel=c.channel, status=c.status.value,
                                                language=_s(c.language))
    event.created_at.FromDatetime(c.created_at)
    return event


def conversation_updated(c: Conversation, changed: list[str]) -> conversations_v1.ConversationUpdated:
    event = conversations_v1.ConversationUpdated(
        conversation_id=str(c.id), inbox_id=str(c.inbox_id), contact_id=str(c.contact_id), status=c.status.value,
        language=_s(c.language), assignee_agent_id=_s(c.assignee_agent_id), changed_fields=changed)
    event.updated_at.FromDatetime(c.updated_at)
    return event


def ticket_opened(t: Ticket) -> tickets_v1.TicketOpened:
    event = tickets_v1.TicketOpened(ticket_id=str(t.id), conversation_id=str(t.conversation_id), status=t.status.value,
                                    priority=t.priority)
    event.opened_at.FromDatetime(t.opened_at)
    return event


def ticket_assigned(t: Ticket) -> tickets_v1.TicketAssigned:
    event = tickets_v1.TicketAssigned(ticket_id=str(t.id), conversation_id=str(t.conversation_id),
                                      assignee_agent_id=_s(t.assignee_agent_id))
    event.assigned_at.FromDatetime(t.updated_at)
    return event


def message_created(m: Message) -> messages_v1.MessageCreated:
    event = messages_v1.MessageCreated(
        message_id=str(m.id), conversation_id=str(m.conversation_id), inbox_id=str(m.inbox_id),
        contact_id=str(m.contact_id), direction=_DIRECTION[m.direction], text=m.text, language=_s(m.language),
        status=m.status.value, sender_agent_id=_s(m.sender_agent_id), external_id=_s(m.external_id))
    event.created_at.FromDatetime(m.created_at)
    return event


def message_updated(m: Message, updated_at: datetime) -> messages_v1.MessageUpdated:
    event = messages_v1.MessageUpdated(message_id=str(m.id), conversation_id=str(m.conversation_id),
                                       status=m.status.value, language=_s(m.language), error=_s(m.error))
    event.updated_at.FromDatetime(updated_at)
    return event


def outbound_requested(m: Message, channel: str, recipient_id: str) -> outbound_v1.OutboundRequested:
    return outbound_v1.OutboundRequested(message_id=str(m.id), conversation_id=str(m.conversation_id),
                                         inbox_id=str(m.inbox_id), channel=channel, recipient_id=recipient_id,
                                         text=m.text, language=_s(m.language))
