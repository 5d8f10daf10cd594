"""Ingest's tables (schema ``ingest``)."""

from __future__ import annotations

from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from sqlalchemy import Column, DateTime, Index, Integer, PrimaryKeyConstraint, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = service_metadata()

inboxes = Table(
    "inboxes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("settings", JSONB, nullable=False),
    Column("secret_encrypted", Text, nullable=False),  # Fernet token (see secretbox.py)
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_inboxes_tenant_id_created_at_id", inboxes.c.tenant_id, inboxes.c.created_at, inboxes.c.id)

# inbound dedupe: one row per (inbox, channel-side message id) ever accepted
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("inbox_id", UUID(as_uuid=True), nullable=False),
    Column("external_id", Text, nullable=False),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("inbox_id", "external_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("conversation_id", Text, nullable=False),
    Column("inbox_id", UUID(as_uuid=True), nullable=False),
    Column("channel", Text, nullable=False),
    Column("recipient_id", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("message_id"),
)
Index("ix_deliveries_due", deliveries.c.next_attempt_at, postgresql_where=deliveries.c.status == "pending")
Index("ix_deliveries_tenant_id_created_at_id", deliveries.c.tenant_id, deliveries.c.created_at, deliveries.c.id)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
