"""Translation's tables (schema ``translation``).

``detections`` holds one row per inbound message, keyed by the id of ingest's MessageReceived event
(unique ``received_event_id``): it keeps the consumer idempotent (translation's consumer writes no
processed-event markers: meridian_translation.consumers), and is the base of language analytics.
"""

from __future__ import annotations

from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from sqlalchemy import Column, DateTime, Float, Index, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID

metadata = service_metadata()

detections = Table(
    "detections",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("received_event_id", UUID(as_uuid=True), nullable=False),
    Column("language", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("received_event_id"),
)
Index("ix_detections_tenant_id_created_at", detections.c.tenant_id, detections.c.created_at)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
