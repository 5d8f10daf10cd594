"""Routing's event subscriptions."""

from __future__ import annotations

from meridian.bus.consumer import EventSubscription
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1

from meridian_routing.handlers import on_conversation_event

SUBSCRIPTIONS = [
    EventSubscription(topics=["ticket.conversations.v1"], group="routing.conversations",
                      handlers={conversations_v1.ConversationOpened: on_conversation_event,
                                conversations_v1.ConversationUpdated: on_conversation_event},
                      background=True),  # assignment trails the message the agent already sees
]
