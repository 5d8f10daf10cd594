"""Every query of compliance; every method takes ``tenant_id``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_compliance.domain.chain import AuditRecord, ChainLink
from meridian_compliance.tables import audit_events


@dataclass(frozen=True, slots=True)
class AuditFilter:
    service: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    since: datetime | None = None     # occurred_at >= since
    until: datetime | None = None     # occurred_at < until


def tenant_lock_key(tenant_id: UUID) -> int:
    """A signed 64-bit advisory lock key for one tenant's chain."""
    digest = hashlib.sha256(b"compliance.audit_chain:" + tenant_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _link(row: Any) -> ChainLink:
    record = AuditRecord(id=row.id, tenant_id=row.tenant_id, occurred_at=row.occurred_at,
                         recorded_at=row.recorded_at, service=row.service, actor_type=row.actor_type,
                         actor_id=row.actor_id, action=row.action, resource_type=row.resource_type,
                         resource_id=row.resource_id, details=dict(row.details))
    return ChainLink(seq=row.seq, record=record, prev_hash=bytes(row.prev_hash), hash=bytes(row.hash))


class AuditEventRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_chain(self, tenant_id: UUID) -> None:
        """Serialise appends to one tenant's chain until the transaction ends."""
        await self.conn.execute(select(func.pg_advisory_xact_lock(tenant_lock_key(tenant_id))))

    async def exists(self, tenant_id: UUID, event_id: UUID) -> bool:
        row = (await self.conn.execute(select(audit_events.c.seq).where(
            audit_events.c.tenant_id == tenant_id, audit_events.c.id == event_id))).first()
        return row is not None

    async def last_hash(self, tenant_id: UUID) -> bytes | None:
        row = (await self.conn.execute(
            select(audit_events.c.hash).where(audit_events.c.tenant_id == tenant_id)
            .order_by(audit_events.c.seq.desc()).limit(1))).first()
        return bytes(row.hash) if row else None

    async def append(self, record: AuditRecord, prev_hash: bytes, hash_: bytes) -> bool:
        """Insert one link; False when the event id is already stored."""
        result = await self.conn.execute(insert(audit_events).values(
            id=record.id, tenant_id=record.tenant_id, occurred_at=record.occurred_at,
            recorded_at=record.recorded_at, service=record.service, actor_type=record.actor_type,
            actor_id=record.actor_id, action=record.action, resource_type=record.resource_type,
            resource_id=record.resource_id, details=dict(record.details), prev_hash=prev_hash, hash=hash_,
        ).on_conflict_do_nothing(index_elements=[audit_events.c.id]))
        return result.rowcount == 1

    async def list(self, tenant_id: UUID, flt: AuditFilter, *, before_seq: int | None, limit: int
                   ) -> list[ChainLink]:
        """Newest first (``seq`` descending), keyset-paginated by ``seq``."""
        c = audit_events.c
        query = select(audit_events).where(c.tenant_id == tenant_id)
        for column, value in ((c.service, flt.service), (c.resource_type, flt.resource_type),
                              (c.resource_id, flt.resource_id), (c.action, flt.action)):
            if value:
                query = query.where(column == value)
        if flt.since is not None:
            query = query.where(c.occurred_at >= flt.since)
        if flt.until is not None:
            query = query.where(c.occurred_at < flt.until)
        if before_seq is not None:
            query = query.where(c.seq < before_seq)
        rows = (await self.conn.execute(query.order_by(c.seq.desc()).limit(limit))).all()
        return [_link(r) for r in rows]

    async def chain(self, tenant_id: UUID, *, after_seq: int, limit: int) -> list[ChainLink]:
        rows = (await self.conn.execute(
            select(audit_events).where(audit_events.c.tenant_id == tenant_id, audit_events.c.seq > after_seq)
            .order_by(audit_events.c.seq).limit(limit))).all()
        return [_link(r) for r in rows]
