"""Compliance's event subscriptions: every service's audit topic."""

from __future__ import annotations

from meridian.bus.consumer import EventSubscription
from meridian.contracts.audit import records_v1_pb2 as audit_v1
from meridian.events.registry import audit_topic
from meridian.settings import SERVICE_NAMES

from meridian_compliance.handlers import on_audit_recorded

AUDIT_TOPICS = [audit_topic(name) for name in SERVICE_NAMES]   # gateway.audit.v1 … compliance.audit.v1

SUBSCRIPTIONS = [
    EventSubscription(topics=AUDIT_TOPICS, group="compliance.audit",
                      handlers={audit_v1.AuditRecorded: on_audit_recorded},
                      background=True),  # nobody waits on the audit trail
]
