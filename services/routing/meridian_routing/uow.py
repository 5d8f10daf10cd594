"""RoutingUow: routing's repositories on one transaction, and the transaction's working set.

A consumer batch makes many decisions in one transaction, so the unit of work keeps what they read
and write in memory and writes it in bulk (``flush_routing``, at the latest at commit):

- conversations: the state of each conversation id (snapshot, active assignment, queue entry) is
  read once, with one query, then kept here; snapshot upserts, assignments, releases and queue
  changes are written at flush, a few statements for the whole batch;
- agents: a tenant's online agents are read once per transaction, ``FOR UPDATE``, under the tenant's
  routing lock; their loads are counted here and written at flush. Other agents (offline or away:
  a manual assignment, a release) are updated in the database at once.

Every change to a conversation first loads its state here (``conversations``), so a state read from
the database never misses a change still pending in memory. Anything that reads those tables
directly (``waiting``, an agent re-read for a response) flushes first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from meridian.db.uow import CapturedContext, SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_routing.domain.model import Agent, ConversationSnapshot, QueueItem
from meridian_routing.repository import (
    ActiveAssignment,
    AgentRepository,
    ConversationRepository,
    ConversationState,
    QueueRepository,
    lock_tenants,
)

# a step staged by an event handler, run at commit: step(uow)
Deferred = Callable[["RoutingUow"], Awaitable[None]]


class RoutingUow(SqlUnitOfWork):
    agents: AgentRepository
    conversations_db: ConversationRepository
    queue: QueueRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.agents = AgentRepository(conn)
        self.conversations_db = ConversationRepository(conn)
        self.queue = QueueRepository(conn)
        self._locked: set[UUID] = set()
        self._deferred: list[tuple[UUID, UUID, Deferred, CapturedContext]] = []
        # conversations: state as this transaction sees it, and what is still to be written
        self._states: dict[UUID, ConversationState] = {}
        self._snapshots: dict[UUID, ConversationSnapshot] = {}            # upserts, by conversation id
        self._releases: list[tuple[UUID, UUID, datetime]] = []            # stored assignments ended
        self._new_assignments: dict[UUID, dict[str, Any]] = {}            # inserts, by assignment id
        self._queue_before: dict[UUID, QueueItem | None] = {}             # stored entry of a changed id
        # agents: a tenant's online agents, locked; ids whose load changed since the last flush
        self._pools: dict[UUID, dict[UUID, Agent]] = {}
        self._dirty_agents: set[tuple[UUID, UUID]] = set()

    async def lock_routing(self, *tenant_ids: UUID) -> None:
        """Take these tenants' routing locks, once per transaction (several in one statement, in a
        fixed order, so two batches never deadlock)."""
        missing = [t for t in dict.fromkeys(tenant_ids) if t not in self._locked]
        if missing:
            await lock_tenants(self.conn, missing)
            self._locked.update(missing)

    # -- deferred event handling -----------------------------------------------------------

    def defer(self, tenant_id: UUID, conversation_id: UUID, step: Deferred) -> None:
        """Stage ``step`` (about this conversation of this tenant) to run at commit, in staging order,
        with ``cause`` and the trace context as they are now (so what it emits is caused by, and
        traced under, the event being handled). A batch's steps run together: their tenants are
        locked in one statement and their conversations read in one query first."""
        self._deferred.append((tenant_id, conversation_id, step, self.captured()))

    async def run_deferred(self) -> None:
        while self._deferred:
            deferred, self._deferred = self._deferred, []
            await self.lock_routing(*(d[0] for d in deferred))
            await self.conversations(d[1] for d in deferred)
            for _, _, step, context in deferred:
                with self.restored(context):
                    await step(self)

    # -- conversations ---------------------------------------------------------------------

    async def conversation(self, conversation_id: UUID) -> ConversationState:
        return (await self.conversations([conversation_id]))[conversation_id]

    async def conversations(self, conversation_ids: Iterable[UUID]) -> dict[UUID, ConversationState]:
        """The state of these conversation ids (loaded with one query for the ones not seen yet)."""
        ids = list(dict.fromkeys(conversation_ids))
        missing = [c for c in ids if c not in self._states]
        if missing:
            self._states.update(await self.conversations_db.states(missing))
        return {c: self._states[c] for c in ids}

    def _state(self, conversation_id: UUID) -> ConversationState:
        state = self._states.get(conversation_id)
        if state is None:
            raise RuntimeError(f"conversation {conversation_id} changed before its state was loaded")
        return state

    def put_snapshot(self, snap: ConversationSnapshot) -> None:
        self._state(snap.conversation_id).snapshot = snap
        self._snapshots[snap.conversation_id] = snap

    def add_assignment(self, id: UUID, tenant_id: UUID, conversation_id: UUID, agent_id: UUID, reason: str,
                       now: datetime) -> None:
        state = self._state(conversation_id)
        if state.active is not None:
            raise RuntimeError(f"conversation {conversation_id} already has an active assignment")
        self._new_assignments[id] = {"id": id, "tenant_id": tenant_id, "conversation_id": conversation_id,
                                     "agent_id": agent_id, "active": True, "reason": reason, "assigned_at": now,
                                     "released_at": None}
        state.active = ActiveAssignment(id=id, tenant_id=tenant_id, agent_id=agent_id)

    def release_assignment(self, tenant_id: UUID, conversation_id: UUID, now: datetime) -> UUID | None:
        """End the conversation's active assignment; returns its agent (None if there was none)."""
        state = self._state(conversation_id)
        active = state.active
        if active is None or active.tenant_id != tenant_id:
            return None
        new = self._new_assignments.get(active.id)
        if new is not None:
            new["active"], new["released_at"] = False, now
        else:
            self._releases.append((tenant_id, conversation_id, now))
        state.active = None
        return active.agent_id

    def _set_queued(self, conversation_id: UUID, item: QueueItem | None) -> None:
        state = self._state(conversation_id)
        self._queue_before.setdefault(conversation_id, state.queued)
        state.queued = item

    def enqueue(self, item: QueueItem) -> None:
        """Queue the conversation (kept as it is when it already waits)."""
        if self._state(item.conversation_id).queued is None:
            self._set_queued(item.conversation_id, item)

    def dequeue(self, tenant_id: UUID, conversation_id: UUID) -> None:
        queued = self._state(conversation_id).queued
        if queued is not None and queued.tenant_id == tenant_id:
            self._set_queued(conversation_id, None)

    def set_queue_language(self, tenant_id: UUID, conversation_id: UUID, language: str) -> None:
        queued = self._state(conversation_id).queued
        if queued is not None and queued.tenant_id == tenant_id:
            self._set_queued(conversation_id, replace(queued, language=language))

    async def waiting(self, tenant_id: UUID, limit: int) -> list[QueueItem]:
        """The oldest ``limit`` queued conversations of the tenant (FIFO), pending changes included."""
        await self._flush_queue()
        return await self.queue.waiting(tenant_id, limit)

    # -- agents ----------------------------------------------------------------------------

    async def _pool(self, tenant_id: UUID) -> dict[UUID, Agent]:
        pool = self._pools.get(tenant_id)
        if pool is None:
            pool = self._pools[tenant_id] = {a.id: a for a in await self.agents.online(tenant_id)}
        return pool

    async def available_agents(self, tenant_id: UUID) -> list[Agent]:
        """Online agents with free capacity (id order), locked for this transaction, loads as of now."""
        return [a for a in (await self._pool(tenant_id)).values() if a.active_conversations < a.capacity]

    async def agent_exists(self, tenant_id: UUID, agent_id: UUID) -> bool:
        pool = self._pools.get(tenant_id)
        if pool is not None and agent_id in pool:
            return True
        return await self.agents.exists(tenant_id, agent_id)

    async def change_load(self, tenant_id: UUID, agent_id: UUID, delta: int, assigned_at: datetime | None = None
                          ) -> None:
        """Add ``delta`` to the agent's load (never below 0); ``assigned_at`` becomes its last assignment."""
        pool = self._pools.get(tenant_id)
        agent = pool.get(agent_id) if pool is not None else None
        if agent is None:  # not an online agent of a loaded pool: straight to the database
            await self.agents.change_load(tenant_id, agent_id, delta, assigned_at)
            return
        assert pool is not None
        pool[agent_id] = replace(agent, active_conversations=max(agent.active_conversations + delta, 0),
                                 last_assigned_at=assigned_at or agent.last_assigned_at)
        self._dirty_agents.add((tenant_id, agent_id))

    async def save_agent(self, agent: Agent) -> None:
        """Write an agent's editable fields and presence (its tenant's pool is read again after this)."""
        await self.flush_routing()
        await self.agents.save(agent)
        self._pools.pop(agent.tenant_id, None)

    # -- flush -----------------------------------------------------------------------------

    async def _flush_queue(self) -> None:
        changed = [(c, before, self._states[c].queued) for c, before in self._queue_before.items()]
        self._queue_before = {}
        await self.conversations_db.dequeue([(before.tenant_id, c) for c, before, now in changed
                                             if before is not None and before != now])
        await self.conversations_db.enqueue([now for _, before, now in changed
                                             if now is not None and before != now])

    async def flush_routing(self) -> None:
        """Write everything pending: snapshots, ended then new assignments, the queue, agent loads."""
        snapshots, self._snapshots = list(self._snapshots.values()), {}
        await self.conversations_db.put_snapshots(snapshots)
        releases, self._releases = self._releases, []
        await self.conversations_db.release(releases)      # before the inserts: one active row per conversation
        new, self._new_assignments = list(self._new_assignments.values()), {}
        await self.conversations_db.add_assignments(new)
        await self._flush_queue()
        dirty, self._dirty_agents = sorted(self._dirty_agents), set()
        await self.agents.set_loads([self._pools[t][a] for t, a in dirty])

    async def commit(self) -> None:
        await self.run_deferred()
        await self.flush_routing()
        await super().commit()
