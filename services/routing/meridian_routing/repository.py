"""Every query of routing; every method takes ``tenant_id``."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, func, or_, select, text, update
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


async def lock_tenant(conn: AsyncConnection, tenant_id: UUID) -> None:
    """Serialise routing decisions of one tenant (transaction-scoped advisory lock): a conversation
    queued in one transaction can never be missed by an agent coming online in another."""
    key = zlib.crc32(b"routing:" + tenant_id.bytes) - 2**31
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


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

    async def available(self, tenant_id: UUID) -> list[Agent]:
        """Online agents with free capacity, locked (``FOR UPDATE``, in id order) for this transaction."""
        rows = (await self.conn.execute(
            select(agents).where(agents.c.tenant_id == tenant_id, agents.c.status == Presence.ONLINE.value,
                                 agents.c.active_conversations < agents.c.capacity)
            .order_by(agents.c.id).with_for_update())).all()
        return [_agent(r) for r in rows]

    async def save(self, agent: Agent) -> None:
        await self.conn.execute(update(agents).where(agents.c.tenant_id == agent.tenant_id, agents.c.id == agent.id)
                                .values(name=agent.name, languages=list(agent.languages), timezone=agent.timezone,
                                        capacity=agent.capacity, status=agent.status.value,
                                        updated_at=agent.updated_at))

    async def change_load(self, tenant_id: UUID, agent_id: UUID, delta: int, assigned_at: datetime | None = None
                          ) -> None:
        values: dict[str, Any] = {"active_conversations": func.greatest(agents.c.active_conversations + delta, 0)}
        if assigned_at is not None:
            values["last_assigned_at"] = assigned_at
        await self.conn.execute(update(agents).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
                                .values(**values))

    async def exists(self, tenant_id: UUID, agent_id: UUID) -> bool:
        row = (await self.conn.execute(select(agents.c.id).where(agents.c.tenant_id == tenant_id,
                                                                 agents.c.id == agent_id))).first()
        return row is not None


class SnapshotRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, tenant_id: UUID, conversation_id: UUID) -> ConversationSnapshot | None:
        row = (await self.conn.execute(select(conversation_snapshots).where(
            conversation_snapshots.c.tenant_id == tenant_id,
            conversation_snapshots.c.conversation_id == conversation_id))).first()
        if row is None:
            return None
        return ConversationSnapshot(tenant_id=row.tenant_id, conversation_id=row.conversation_id,
                                    inbox_id=row.inbox_id, status=row.status, language=row.language,
                                    assignee_agent_id=row.assignee_agent_id, updated_at=row.updated_at)

    async def owner(self, conversation_id: UUID) -> UUID | None:
        """The tenant a conversation id belongs to (to refuse an id reused across tenants)."""
        return (await self.conn.execute(select(conversation_snapshots.c.tenant_id).where(
            conversation_snapshots.c.conversation_id == conversation_id))).scalar_one_or_none()

    async def put(self, snap: ConversationSnapshot) -> None:
        values = {"tenant_id": snap.tenant_id, "inbox_id": snap.inbox_id, "status": snap.status,
                  "language": snap.language, "assignee_agent_id": snap.assignee_agent_id,
                  "updated_at": snap.updated_at}
        await self.conn.execute(insert(conversation_snapshots).values(conversation_id=snap.conversation_id, **values)
                                .on_conflict_do_update(index_elements=[conversation_snapshots.c.conversation_id],
                                                       set_=values))


class AssignmentRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def active_agent(self, tenant_id: UUID, conversation_id: UUID) -> UUID | None:
        return (await self.conn.execute(select(assignments.c.agent_id).where(
            assignments.c.tenant_id == tenant_id, assignments.c.conversation_id == conversation_id,
            assignments.c.active))).scalar_one_or_none()

    async def add(self, id: UUID, tenant_id: UUID, conversation_id: UUID, agent_id: UUID, reason: str,
                  now: datetime) -> None:
        await self.conn.execute(insert(assignments).values(
            id=id, tenant_id=tenant_id, conversation_id=conversation_id, agent_id=agent_id, active=True,
            reason=reason, assigned_at=now))

    async def release(self, tenant_id: UUID, conversation_id: UUID, now: datetime) -> UUID | None:
        """End the conversation's active assignment; returns its agent (None if there was none)."""
        return (await self.conn.execute(
            update(assignments).where(assignments.c.tenant_id == tenant_id,
                                      assignments.c.conversation_id == conversation_id, assignments.c.active)
            .values(active=False, released_at=now).returning(assignments.c.agent_id))).scalar_one_or_none()


class QueueRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, item: QueueItem) -> None:
        await self.conn.execute(insert(queue).values(
            conversation_id=item.conversation_id, tenant_id=item.tenant_id, language=item.language,
            queued_at=item.queued_at).on_conflict_do_nothing(index_elements=[queue.c.conversation_id]))

    async def contains(self, tenant_id: UUID, conversation_id: UUID) -> bool:
        row = (await self.conn.execute(select(queue.c.conversation_id).where(
            queue.c.tenant_id == tenant_id, queue.c.conversation_id == conversation_id))).first()
        return row is not None

    async def set_language(self, tenant_id: UUID, conversation_id: UUID, language: str) -> None:
        await self.conn.execute(update(queue).where(queue.c.tenant_id == tenant_id,
                                                    queue.c.conversation_id == conversation_id)
                                .values(language=language))

    async def remove(self, tenant_id: UUID, conversation_id: UUID) -> bool:
        result = await self.conn.execute(delete(queue).where(queue.c.tenant_id == tenant_id,
                                                             queue.c.conversation_id == conversation_id))
        return result.rowcount == 1

    async def waiting(self, tenant_id: UUID, limit: int) -> list[QueueItem]:
        """The oldest ``limit`` queued conversations (FIFO)."""
        rows = (await self.conn.execute(select(queue).where(queue.c.tenant_id == tenant_id)
                                        .order_by(queue.c.queued_at, queue.c.conversation_id).limit(limit))).all()
        return [QueueItem(tenant_id=r.tenant_id, conversation_id=r.conversation_id, language=r.language,
                          queued_at=r.queued_at) for r in rows]

    async def list(self, tenant_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int) -> list[QueueItem]:
        rows = (await self.conn.execute(
            select(queue).where(queue.c.tenant_id == tenant_id,
                                _after(queue.c.queued_at, queue.c.conversation_id, after))
            .order_by(queue.c.queued_at, queue.c.conversation_id).limit(limit))).all()
        return [QueueItem(tenant_id=r.tenant_id, conversation_id=r.conversation_id, language=r.language,
                          queued_at=r.queued_at) for r in rows]
