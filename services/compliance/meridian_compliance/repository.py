"""Every query of compliance; every method takes ``tenant_id``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, LargeBinary, Text, any_, bindparam, cast, func, insert, select
from sqlalchemy import column as sql_column
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
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


# Statements of the batch append path, built once (building them per call costs more CPU than running
# them); each is one fixed SQL text whatever the batch size, so asyncpg reuses its prepared statement.

_UUIDS = ARRAY(PG_UUID(as_uuid=True))

# every key locked in the array's order: callers pass them sorted, so two batches never deadlock
_lock_keys = func.unnest(bindparam("keys", type_=ARRAY(BigInteger))).table_valued(
    sql_column("k", BigInteger)).render_derived(name="lock_keys")
_LOCK_CHAINS = select(func.pg_advisory_xact_lock(_lock_keys.c.k)).select_from(_lock_keys)

_STORED_IDS = select(audit_events.c.id).where(audit_events.c.id == any_(bindparam("ids", type_=_UUIDS)))

_heads_of = func.unnest(bindparam("tenants", type_=_UUIDS)).table_valued(
    sql_column("tenant_id", PG_UUID(as_uuid=True))).render_derived(name="heads_of")
_HEADS = select(_heads_of.c.tenant_id, select(audit_events.c.hash)
                .where(audit_events.c.tenant_id == _heads_of.c.tenant_id)
                .order_by(audit_events.c.seq.desc()).limit(1).scalar_subquery().label("hash"))

_APPEND_COLUMNS = [("id", _UUIDS), ("tenant_id", _UUIDS), ("occurred_at", ARRAY(DateTime(timezone=True))),
                   ("recorded_at", ARRAY(DateTime(timezone=True))), ("service", ARRAY(Text)),
                   ("actor_type", ARRAY(Text)), ("actor_id", ARRAY(Text)), ("action", ARRAY(Text)),
                   ("resource_type", ARRAY(Text)), ("resource_id", ARRAY(Text)), ("details", ARRAY(Text)),
                   ("prev_hash", ARRAY(LargeBinary)), ("hash", ARRAY(LargeBinary))]
_new_rows = func.unnest(*(bindparam(name, type_=type_) for name, type_ in _APPEND_COLUMNS)).table_valued(
    *(sql_column(name, type_.item_type) for name, type_ in _APPEND_COLUMNS), with_ordinality="ord",
).render_derived(name="new_rows")
# one INSERT for the whole batch; ORDER BY ord: seq (the identity) follows the arrays' order
_APPEND_MANY = insert(audit_events).from_select(
    [name for name, _ in _APPEND_COLUMNS],
    select(*(cast(_new_rows.c[name], JSONB) if name == "details" else _new_rows.c[name]
             for name, _ in _APPEND_COLUMNS)).order_by(_new_rows.c.ord))


def _link(row: Any) -> ChainLink:
    record = AuditRecord(id=row.id, tenant_id=row.tenant_id, occurred_at=row.occurred_at,
                         recorded_at=row.recorded_at, service=row.service, actor_type=row.actor_type,
                         actor_id=row.actor_id, action=row.action, resource_type=row.resource_type,
                         resource_id=row.resource_id, details=dict(row.details))
    return ChainLink(seq=row.seq, record=record, prev_hash=bytes(row.prev_hash), hash=bytes(row.hash))


class AuditEventRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_chains(self, tenant_ids: Sequence[UUID]) -> None:
        """Serialise appends to these tenants' chains until the transaction ends (one statement;
        the locks are taken in key order, the same in every transaction, so batches never deadlock)."""
        keys = sorted({tenant_lock_key(t) for t in tenant_ids})
        if keys:
            await self.conn.execute(_LOCK_CHAINS, {"keys": keys})

    async def stored_ids(self, event_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these event ids are already stored (under any tenant: the id is unique)."""
        if not event_ids:
            return set()
        return set((await self.conn.execute(_STORED_IDS, {"ids": list(event_ids)})).scalars())

    async def last_hashes(self, tenant_ids: Sequence[UUID]) -> dict[UUID, bytes]:
        """Each tenant's latest hash (tenants without a chain yet are left out). Read after
        ``lock_chains``, so no other transaction can move these heads before commit."""
        if not tenant_ids:
            return {}
        rows = (await self.conn.execute(_HEADS, {"tenants": list(tenant_ids)})).all()
        return {r.tenant_id: bytes(r.hash) for r in rows if r.hash is not None}

    async def append_many(self, links: Sequence[tuple[AuditRecord, bytes, bytes]]) -> None:
        """Insert ``(record, prev_hash, hash)`` links in one statement; ``seq`` follows their order.
        A stored id is a unique violation (never skipped silently: a skipped link would break the chain)."""
        if not links:
            return
        cols: dict[str, list[Any]] = {name: [] for name, _ in _APPEND_COLUMNS}
        for record, prev_hash, hash_ in links:
            cols["id"].append(record.id)
            cols["tenant_id"].append(record.tenant_id)
            cols["occurred_at"].append(record.occurred_at)
            cols["recorded_at"].append(record.recorded_at)
            cols["service"].append(record.service)
            cols["actor_type"].append(record.actor_type)
            cols["actor_id"].append(record.actor_id)
            cols["action"].append(record.action)
            cols["resource_type"].append(record.resource_type)
            cols["resource_id"].append(record.resource_id)
            cols["details"].append(json.dumps(dict(record.details), ensure_ascii=False))
            cols["prev_hash"].append(prev_hash)
            cols["hash"].append(hash_)
        await self.conn.execute(_APPEND_MANY, cols)

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
