"""Domain ↔ proto."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.ingest import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import outbound_v1_pb2 as outbound_v1

from meridian_ingest.domain.model import Delivery, DeliveryStatus, InboundMessage, InboxCredentials

_STATUS = {
    DeliveryStatus.DELIVERED: deliveries_v1.DELIVERY_STATUS_DELIVERED,
    DeliveryStatus.FAILED: deliveries_v1.DELIVERY_STATUS_FAILED,
}


def message_key(inbox_id: UUID | str, thread_id: str) -> str:
    return f"{inbox_id}:{thread_id}"


def message_received(inbox: InboxCredentials, message: InboundMessage,
                     received_at: datetime) -> messages_v1.MessageReceived:
    s = message.sender
    event = messages_v1.MessageReceived(
        inbox_id=str(inbox.id), channel=inbox.channel, external_id=message.external_id, thread_id=message.thread_id,
        sender=messages_v1.Sender(id=s.id, name=s.name, email=s.email, phone=s.phone), text=message.text)
    event.sent_at.FromDatetime(message.sent_at or received_at)
    event.received_at.FromDatetime(received_at)
    return event


def delivery_updated(delivery: Delivery, status: DeliveryStatus, attempts: int, error: str | None,
                     occurred_at: datetime) -> deliveries_v1.DeliveryUpdated:
    event = deliveries_v1.DeliveryUpdated(
        message_id=delivery.message_id, conversation_id=delivery.conversation_id, inbox_id=str(delivery.inbox_id),
        status=_STATUS[status], attempts=attempts, error=error or "")
    event.occurred_at.FromDatetime(occurred_at)
    return event


def outbound_requested(delivery: Delivery) -> outbound_v1.OutboundRequested:
    """The original request, rebuilt from the delivery row (for the dead-letter topic)."""
    return outbound_v1.OutboundRequested(
        message_id=delivery.message_id, conversation_id=delivery.conversation_id, inbox_id=str(delivery.inbox_id),
        channel=delivery.channel, recipient_id=delivery.recipient_id, text=delivery.text, language=delivery.language)
