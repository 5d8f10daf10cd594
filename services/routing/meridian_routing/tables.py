"""Routing's tables (schema ``routing``).

``agents.active_conversations`` is the agent's load: the number of its ``assignments`` rows that are
active. Both change in the same transaction, always with the agent row locked (``FOR UPDATE``).
``conversation_snapshots`` is routing's projection of ticket's conversations.
"""

from __future__ import annotations

from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from sqlalchemy import Boolean, Column, DateTime, Index, Integer, Table, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID

metadata = service_metadata()

agents = Table(
    "agents",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("email", Text, nullable=False),          # lowercase
    Column("languages", ARRAY(Text), nullable=False),  # normalised BCP 47 tags
    Column("timezone", Text, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("active_conversations", Integer, nullable=False, server_default="0"),
    Column("last_assigned_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "email"),
)
Index("ix_agents_tenant_id_created_at_id", agents.c.tenant_id, agents.c.created_at, agents.c.id)

conversation_snapshots = Table(
    "conversation_snapshots",
    metadata,
    Column("conversation_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("inbox_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("assignee_agent_id", UUID(as_uuid=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=True),  # ticket's updated_at of the last event applied
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("conversation_id", UUID(as_uuid=True), nullable=False),
    Column("agent_id", UUID(as_uuid=True), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=True),
)
# at most one active assignment per conversation
Index("uq_assignments_conversation_id_active", assignments.c.conversation_id, unique=True,
      postgresql_where=text("active"))
Index("ix_assignments_tenant_id_agent_id", assignments.c.tenant_id, assignments.c.agent_id,
      postgresql_where=text("active"))

queue = Table(
    "queue",
    metadata,
    Column("conversation_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("language", Text, nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False),
)
Index("ix_queue_tenant_id_queued_at_conversation_id", queue.c.tenant_id, queue.c.queued_at, queue.c.conversation_id)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
