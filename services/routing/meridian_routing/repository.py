"""Every query of routing; every method takes ``tenant_id`` (except ``ConversationRepository.states``,
which reads by conversation id on purpose: it is how an id reused across tenants is refused).

The statements of the event path are built once, at import, with bind parameters: building a
statement costs more CPU than running it. Bulk statements take arrays (``unnest``), so one SQL text
serves any batch size and asyncpg reuses its prepared statement.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from meridian.db.bulk import bind_arrays, unnest_rows
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    Text,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_routing.domain.model import Agent, ConversationSnapshot, Presence, QueueItem
from meridian_routing.tables import agents, assignments, conversation_snapshots, queue


def _agent(row: Any) -> Agent:
    return Agent(id=row.id, tenant_id=row.tenant_id, name=row.name, email=row.email, languages=tuple(row.languages),
                 timezone=row.timezone, capacity=row.capacity, status=Presence(row.status),
                 active_conversations=row.active_conversations, created_at=row.created_at,
                 updated_at=row.updated_at, last_assigned_at=row.last_assigned_at)


def _after(created_col: Any, id_col: Any, after: tuple[datetime, UUID] | None) -> Any:
    if after is None:
        return True
    created, item = after
    return or_(created_col > created, and_(created_col == created, id_col > item))


_UUID = PG_UUID(as_uuid=True)
_TS = DateTime(timezone=True)


_lock_keys = unnest_rows("lock_keys", ("k", BigInteger))
_LOCK_TENANTS = select(func.pg_advisory_xact_lock(_lock_keys.c.k)).select_from(_lock_keys)


def tenant_lock_key(tenant_id: UUID) -> int:
    return zlib.crc32(b"routing:" + tenant_id.bytes) - 2**31


async def lock_tenants(conn: AsyncConnection, tenant_ids: Sequence[UUID]) -> None:
    """Serialise routing decisions of these tenants (transaction-scoped advisory locks): a
    conversation queued in one transaction can never be missed by an agent coming online in
    another. One statement; the locks are taken in key order, the same in every transaction."""
    keys = sorted({tenant_lock_key(t) for t in tenant_ids})
    if keys:
        await conn.execute(_LOCK_TENANTS, bind_arrays("lock_keys", k=keys))


# ---------------------------------------------------------------- agents

_ONLINE_AGENTS = (select(agents).where(agents.c.tenant_id == bindparam("tenant_id"),
                                       agents.c.status == Presence.ONLINE.value)
                  .order_by(agents.c.id).with_for_update())
_AGENT_EXISTS = select(agents.c.id).where(agents.c.tenant_id == bindparam("tenant_id"),
                                          agents.c.id == bindparam("agent_id"))
_CHANGE_LOAD = (update(agents).where(agents.c.tenant_id == bindparam("t_id"), agents.c.id == bindparam("a_id"))
                .values(active_conversations=func.greatest(agents.c.active_conversations + bindparam("delta"), 0),
                        last_assigned_at=func.coalesce(bindparam("assigned_at", type_=_TS),
                                                       agents.c.last_assigned_at)))
_loads = unnest_rows("loads", ("tenant_id", _UUID), ("id", _UUID), ("active", Integer), ("assigned_at", _TS))
_SET_LOADS = (update(agents).where(agents.c.tenant_id == _loads.c.tenant_id, agents.c.id == _loads.c.id)
              .values(active_conversations=_loads.c.active, last_assigned_at=_loads.c.assigned_at))


class AgentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, agent: Agent) -> bool:
        """False when the tenant already has an agent with this email."""
        result = await self.conn.execute(insert(agents).values(
            id=agent.id, tenant_id=agent.tenant_id, name=agent.name, email=agent.email,
            languages=list(agent.languages), timezone=agent.timezone, capacity=agent.capacity,
            status=agent.status.value, active_conversations=agent.active_conversations,
            last_assigned_at=agent.last_assigned_at, created_at=agent.created_at, updated_at=agent.updated_at,
        ).on_conflict_do_nothing(index_elements=[agents.c.tenant_id, agents.c.email]))
        return result.rowcount == 1

    async def get(self, tenant_id: UUID, agent_id: UUID, *, for_update: bool = False) -> Agent | None:
        query = select(agents).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return _agent(row) if row else None

    async def list(self, tenant_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int) -> list[Agent]:
        rows = (await self.conn.execute(
            select(agents).where(agents.c.tenant_id == tenant_id, _after(agents.c.created_at, agents.c.id, after))
            .order_by(agents.c.created_at, agents.c.id).limit(limit))).all()
        return [_agent(r) for r in rows]

    async def online(self, tenant_id: UUID) -> list[Agent]:
        """Online agents (full ones too), locked (``FOR UPDATE``, in id order) for this transaction."""
        rows = (await self.conn.execute(_ONLINE_AGENTS, {"tenant_id": tenant_id})).all()
        return [_agent(r) for r in rows]

    async def save(self, agent: Agent) -> None:
        await self.conn.execute(update(agents).where(agents.c.tenant_id == agent.tenant_id, agents.c.id == agent.id)
                                .values(name=agent.name, languages=list(agent.languages), timezone=agent.timezone,
                                        capacity=agent.capacity, status=agent.status.value,
                                        updated_at=agent.updated_at))

    async def change_load(self, tenant_id: UUID, agent_id: UUID, delta: int, assigned_at: datetime | None = None
                          ) -> None:
        """Add ``delta`` to the agent's load (never below 0) in the database."""
        await self.conn.execute(_CHANGE_LOAD, {"t_id": tenant_id, "a_id": agent_id, "delta": delta,
                                               "assigned_at": assigned_at})

    async def set_loads(self, loads: Sequence[Agent]) -> None:
        """Write these agents' ``active_conversations`` and ``last_assigned_at`` (one statement)."""
        if not loads:
            return
        await self.conn.execute(_SET_LOADS, bind_arrays("loads", tenant_id=[a.tenant_id for a in loads],
                                                    id=[a.id for a in loads],
                                                    active=[a.active_conversations for a in loads],
                                                    assigned_at=[a.last_assigned_at for a in loads]))

    async def exists(self, tenant_id: UUID, agent_id: UUID) -> bool:
        row = (await self.conn.execute(_AGENT_EXISTS, {"tenant_id": tenant_id, "agent_id": agent_id})).first()
        return row is not None


# ---------------------------------------------------------------- conversations (snapshot + assignment + queue)


@dataclass(frozen=True, slots=True)
class ActiveAssignment:
    id: UUID
    tenant_id: UUID
    agent_id: UUID


@dataclass(slots=True)
class ConversationState:
    """What routing stores about one conversation id (under whichever tenant): its snapshot, its
    active assignment and its queue entry."""

    snapshot: ConversationSnapshot | None
    active: ActiveAssignment | None
    queued: QueueItem | None


_s, _a, _q = conversation_snapshots, assignments, queue
_want = unnest_rows("want", ("cid", _UUID))
_STATES = (select(_want.c.cid, _s.c.tenant_id, _s.c.inbox_id, _s.c.status, _s.c.language, _s.c.assignee_agent_id,
                  _s.c.updated_at, _a.c.id.label("a_id"), _a.c.tenant_id.label("a_tenant_id"),
                  _a.c.agent_id.label("a_agent_id"), _q.c.tenant_id.label("q_tenant_id"),
                  _q.c.language.label("q_language"), _q.c.queued_at.label("q_queued_at"))
           .select_from(_want.outerjoin(_s, _s.c.conversation_id == _want.c.cid)
                        .outerjoin(_a, and_(_a.c.conversation_id == _want.c.cid, _a.c.active))
                        .outerjoin(_q, _q.c.conversation_id == _want.c.cid)))

_SNAP_COLUMNS = [("conversation_id", _UUID), ("tenant_id", _UUID), ("inbox_id", Text), ("status", Text),
                 ("language", Text), ("assignee_agent_id", _UUID), ("updated_at", _TS)]
_snaps = unnest_rows("snaps", *_SNAP_COLUMNS)
_put = insert(_s).from_select([c for c, _ in _SNAP_COLUMNS], select(*(_snaps.c[c] for c, _ in _SNAP_COLUMNS)))
_PUT_SNAPSHOTS = _put.on_conflict_do_update(index_elements=[_s.c.conversation_id],
                                            set_={c: _put.excluded[c] for c, _ in _SNAP_COLUMNS[1:]})

_released = unnest_rows("released", ("tenant_id", _UUID), ("cid", _UUID), ("released_at", _TS))
_RELEASE = (update(_a).where(_a.c.tenant_id == _released.c.tenant_id, _a.c.conversation_id == _released.c.cid,
                             _a.c.active)
            .values(active=False, released_at=_released.c.released_at))

_ASSIGNMENT_COLUMNS = [("id", _UUID), ("tenant_id", _UUID), ("conversation_id", _UUID), ("agent_id", _UUID),
                       ("active", Boolean), ("reason", Text), ("assigned_at", _TS), ("released_at", _TS)]
_new_assignments = unnest_rows("new_assignments", *_ASSIGNMENT_COLUMNS)
_ADD_ASSIGNMENTS = insert(_a).from_select([c for c, _ in _ASSIGNMENT_COLUMNS],
                                          select(*(_new_assignments.c[c] for c, _ in _ASSIGNMENT_COLUMNS)))

_dequeued = unnest_rows("dequeued", ("tenant_id", _UUID), ("cid", _UUID))
_DEQUEUE = delete(_q).where(_q.c.tenant_id == _dequeued.c.tenant_id, _q.c.conversation_id == _dequeued.c.cid)
_QUEUE_COLUMNS = [("conversation_id", _UUID), ("tenant_id", _UUID), ("language", Text), ("queued_at", _TS)]
_enqueued = unnest_rows("enqueued", *_QUEUE_COLUMNS)
_ENQUEUE = (insert(_q).from_select([c for c, _ in _QUEUE_COLUMNS], select(*(_enqueued.c[c] for c, _ in _QUEUE_COLUMNS)))
            .on_conflict_do_nothing(index_elements=[_q.c.conversation_id]))
_WAITING = (select(_q).where(_q.c.tenant_id == bindparam("tenant_id"))
            .order_by(_q.c.queued_at, _q.c.conversation_id).limit(bindparam("limit")))


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[tuple[str, Any]]) -> dict[str, list[Any]]:
    return {name: [r[name] for r in rows] for name, _ in names}


class ConversationRepository:
    """Snapshots, assignments and the queue, read per conversation and written in bulk."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def states(self, conversation_ids: Sequence[UUID]) -> dict[UUID, ConversationState]:
        """The stored state of each conversation id, whatever tenant it belongs to (callers compare
        the tenant: a snapshot of another tenant means the id was reused across tenants)."""
        rows = (await self.conn.execute(_STATES, bind_arrays("want", cid=list(conversation_ids)))).all()
        out: dict[UUID, ConversationState] = {}
        for r in rows:
            snap = None if r.tenant_id is None else ConversationSnapshot(
                tenant_id=r.tenant_id, conversation_id=r.cid, inbox_id=r.inbox_id, status=r.status,
                language=r.language, assignee_agent_id=r.assignee_agent_id, updated_at=r.updated_at)
            active = None if r.a_id is None else ActiveAssignment(id=r.a_id, tenant_id=r.a_tenant_id,
                                                                  agent_id=r.a_agent_id)
            queued = None if r.q_tenant_id is None else QueueItem(tenant_id=r.q_tenant_id, conversation_id=r.cid,
                                                                  language=r.q_language, queued_at=r.q_queued_at)
            out[r.cid] = ConversationState(snapshot=snap, active=active, queued=queued)
        return out

    async def put_snapshots(self, snaps: Sequence[ConversationSnapshot]) -> None:
        """Upsert snapshots (at most one per conversation id)."""
        if snaps:
            await self.conn.execute(_PUT_SNAPSHOTS, bind_arrays(
                "snaps", conversation_id=[s.conversation_id for s in snaps], tenant_id=[s.tenant_id for s in snaps],
                inbox_id=[s.inbox_id for s in snaps], status=[s.status for s in snaps],
                language=[s.language for s in snaps], assignee_agent_id=[s.assignee_agent_id for s in snaps],
                updated_at=[s.updated_at for s in snaps]))

    async def release(self, released: Sequence[tuple[UUID, UUID, datetime]]) -> None:
        """End the active assignment of each ``(tenant_id, conversation_id, released_at)``."""
        if released:
            await self.conn.execute(_RELEASE, bind_arrays("released", tenant_id=[t for t, _, _ in released],
                                                      cid=[c for _, c, _ in released],
                                                      released_at=[at for _, _, at in released]))

    async def add_assignments(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert assignment rows (dicts of every column)."""
        if rows:
            await self.conn.execute(_ADD_ASSIGNMENTS,
                                    bind_arrays("new_assignments", **_columns(rows, _ASSIGNMENT_COLUMNS)))

    async def dequeue(self, removed: Sequence[tuple[UUID, UUID]]) -> None:
        """Delete the queue entries of ``(tenant_id, conversation_id)``."""
        if removed:
            await self.conn.execute(_DEQUEUE, bind_arrays("dequeued", tenant_id=[t for t, _ in removed],
                                                      cid=[c for _, c in removed]))

    async def enqueue(self, items: Sequence[QueueItem]) -> None:
        if items:
            await self.conn.execute(_ENQUEUE, bind_arrays(
                "enqueued", conversation_id=[i.conversation_id for i in items], tenant_id=[i.tenant_id for i in items],
                language=[i.language for i in items], queued_at=[i.queued_at for i in items]))


class QueueRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def waiting(self, tenant_id: UUID, limit: int) -> list[QueueItem]:
        """The oldest ``limit`` queued conversations (FIFO)."""
        rows = (await self.conn.execute(_WAITING, {"tenant_id": tenant_id, "limit": limit})).all()
        return [QueueItem(tenant_id=r.tenant_id, conversation_id=r.conversation_id, language=r.language,
                          queued_at=r.queued_at) for r in rows]

    async def list(self, tenant_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int) -> list[QueueItem]:
        rows = (await self.conn.execute(
            select(queue).where(queue.c.tenant_id == tenant_id,
                                _after(queue.c.queued_at, queue.c.conversation_id, after))
            .order_by(queue.c.queued_at, queue.c.conversation_id).limit(limit))).all()
        return [QueueItem(tenant_id=r.tenant_id, conversation_id=r.conversation_id, language=r.language,
                          queued_at=r.queued_at) for r in rows]
