"""Every statement of translation."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from meridian.db.uow import stored_with_events_sql


@dataclass(frozen=True, slots=True)
class NewDetection:
    id: UUID
    tenant_id: UUID
    received_event_id: UUID
    language: str
    confidence: float
    created_at: datetime


@functools.cache
def store_detections_sql(outbox: str) -> str:
    """A consumer batch's one statement: its detections ($1 ids, $2 tenant ids, $3 received event
    ids, $4 languages, $5 confidences, $6 created_at; one per received event) and the outbox rows
    ($7…$12, one per detection, in the same order) of those stored (a received event detected before
    is left out); returns the received event ids stored."""
    return stored_with_events_sql(
        outbox, "INSERT INTO detections (id, tenant_id, received_event_id, language, confidence, created_at) "
                "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::float8[], "
                "$6::timestamptz[]) ON CONFLICT (received_event_id) DO NOTHING",
        keys=(("received_event_id", "$3::uuid[]"),), first_event=7)
