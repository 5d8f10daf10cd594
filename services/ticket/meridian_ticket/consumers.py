"""Ticket's event subscriptions (one consumer group per purpose)."""

from __future__ import annotations

from meridian.bus.consumer import EventSubscription
from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.ingest import messages_v1_pb2 as ingest_messages_v1
from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.translation import messages_v1_pb2 as translation_v1

from meridian_ticket.handlers import (
    on_assignment_decided,
    on_delivery_updated,
    on_message_received,
    on_message_translated,
    prepare_assignments,
    prepare_inbound,
    prepare_translations,
)

SUBSCRIPTIONS = [
    EventSubscription(topics=["ingest.messages.v1"], group="ticket.inbound",
                      handlers={ingest_messages_v1.MessageReceived: on_message_received},
                      prepare=prepare_inbound),
    EventSubscription(topics=["translation.messages.v1"], group="ticket.translations",
                      handlers={translation_v1.MessageTranslated: on_message_translated},
                      prepare=prepare_translations),
    EventSubscription(topics=["routing.assignments.v1"], group="ticket.assignments",
                      handlers={assignments_v1.AssignmentDecided: on_assignment_decided},
                      prepare=prepare_assignments, background=True),   # trails message.created
    EventSubscription(topics=["ingest.deliveries.v1"], group="ticket.deliveries",
                      handlers={deliveries_v1.DeliveryUpdated: on_delivery_updated}, background=True),
]
