"""Gateway tables (schema ``gateway``)."""

from __future__ import annotations

from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from sqlalchemy import Boolean, Column, DateTime, Index, Integer, LargeBinary, Table, Text, false
from sqlalchemy.dialects.postgresql import UUID

metadata = service_metadata()

tenants = Table(
    "tenants",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("is_demo", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
# at most one demo tenant
Index("uq_tenants_is_demo", tenants.c.is_demo, unique=True, postgresql_where=tenants.c.is_demo)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
Index("ix_api_keys_tenant_id_created_at", api_keys.c.tenant_id, api_keys.c.created_at, api_keys.c.id)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # the nil UUID scopes operator requests (POST /api/v1/tenants)
    Column("tenant_id", UUID(as_uuid=True), primary_key=True),
    Column("key", Text, primary_key=True),
    Column("method", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("body_sha256", Text, nullable=False),
    Column("status", Integer, nullable=True),  # NULL while in flight
    Column("response_body", LargeBinary, nullable=True),
    Column("content_type", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
Index("ix_idempotency_keys_expires_at", idempotency_keys.c.expires_at)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
