"""Translation's tables (schema ``translation``).

``detections`` holds one row per message (unique ``message_id``): it makes the consumer idempotent
even when ticket re-emits a message under a new event id, and is the base of language analytics.
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
    Column("message_id", UUID(as_uuid=True), nullable=False),
    Column("conversation_id", UUID(as_uuid=True), nullable=False),
    Column("language", Text, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("message_id"),
)
Index("ix_detections_tenant_id_created_at", detections.c.tenant_id, detections.c.created_at)
Index("ix_detections_tenant_id_conversation_id", detections.c.tenant_id, detections.c.conversation_id)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
