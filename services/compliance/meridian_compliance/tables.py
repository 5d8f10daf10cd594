"""Compliance tables (schema ``compliance``).

``audit_events`` is append-only: a trigger (created in the initial migration) raises on UPDATE and
DELETE. The privacy issue will add a controlled erasure path (e.g. a SECURITY DEFINER function that
redacts ``details`` of one subject's rows and records the erasure) instead of ordinary UPDATEs.
"""

from __future__ import annotations

from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, LargeBinary, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = service_metadata()

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, Identity(always=True), primary_key=True),
    Column("id", UUID(as_uuid=True), nullable=False, unique=True),   # the event id: idempotent
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("service", Text, nullable=False),
    Column("actor_type", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("resource_type", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("details", JSONB, nullable=False),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)
Index("ix_audit_events_tenant_id_seq", audit_events.c.tenant_id, audit_events.c.seq)
Index("ix_audit_events_tenant_id_resource_type_resource_id", audit_events.c.tenant_id,
      audit_events.c.resource_type, audit_events.c.resource_id)
Index("ix_audit_events_tenant_id_occurred_at", audit_events.c.tenant_id, audit_events.c.occurred_at)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
