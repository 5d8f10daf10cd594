"""Ingest's event subscriptions."""

from __future__ import annotations

from meridian.bus.consumer import EventSubscription
from meridian.contracts.ticket import outbound_v1_pb2 as outbound_v1

from meridian_ingest.handlers import on_outbound_requested

SUBSCRIPTIONS = [
    EventSubscription(topics=["ticket.outbound.v1"], group="ingest.outbound",
                      handlers={outbound_v1.OutboundRequested: on_outbound_requested}),
]
