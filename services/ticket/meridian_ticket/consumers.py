"""Ticket's event subscription: ONE consumer group, ``ticket.events``, for the four topics ticket
consumes.

One group means one transaction at a time for ticket's events: a batch may mix inbound messages,
detected languages, assignments and delivery reports, and they update the same conversation rows.
Separate groups ran concurrent batch transactions on those rows, which waited on each other and
deadlocked (and PostgreSQL only detects a deadlock after ``deadlock_timeout``).
"""

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
)

GROUP = "ticket.events"

SUBSCRIPTIONS = [
    EventSubscription(
        topics=["ingest.messages.v1", "translation.messages.v1", "routing.assignments.v1", "ingest.deliveries.v1"],
        group=GROUP,
        handlers={
            ingest_messages_v1.MessageReceived: on_message_received,
            translation_v1.MessageTranslated: on_message_translated,
            assignments_v1.AssignmentDecided: on_assignment_decided,
            deliveries_v1.DeliveryUpdated: on_delivery_updated,
        },
    ),
]
