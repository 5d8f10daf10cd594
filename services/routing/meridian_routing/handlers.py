"""Routing's use cases and event handlers (no commits here: the runner commits).

Every path that changes who works on what (a decision, a release, a drain of the queue) first
takes the tenant's routing lock (``uow.lock_routing``); the tenant's online agents are read
``FOR UPDATE`` once per transaction and their loads counted in the unit of work, so a batch of
conversations never overfills an agent. Conversation state is read once per conversation and
written in bulk at commit (see ``RoutingUow``).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from functools import partial
from uuid import UUID

from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.events.envelope import EventMeta
from meridian.http.pagination import clamp_limit, decode_cursor, page
from meridian.ids import uuid7

from meridian_routing import contracts
from meridian_routing.commands import CreateAgent, SetPresence, UpdateAgent
from meridian_routing.domain.assignment import choose_agent, plan_drain
from meridian_routing.domain.errors import AgentEmailTaken, AgentNotFound, ConversationEventInvalid
from meridian_routing.domain.language import primary_subtag
from meridian_routing.domain.model import (
    Agent,
    ConversationSnapshot,
    Presence,
    QueueItem,
    apply_update,
    new_agent,
    validate_agent_fields,
)
from meridian_routing.uow import RoutingUow

log = logging.getLogger("meridian.routing")

DRAIN_BATCH = 1000  # queued conversations looked at per drain


def _actor(actor: str) -> tuple[str, str]:
    return ("user", actor) if actor else ("system", "")


# ---------------------------------------------------------------- agents


async def create_agent(cmd: CreateAgent, uow: RoutingUow) -> Agent:
    fields = validate_agent_fields(name=cmd.name, email=cmd.email, languages=cmd.languages, timezone=cmd.timezone,
                                   capacity=cmd.capacity)
    agent = new_agent(uuid7(), cmd.tenant_id, fields, uow.clock.now())
    if not await uow.agents.add(agent):
        raise AgentEmailTaken("an agent with this email already exists in the tenant")
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="agent.created", resource_type="agent", resource_id=agent.id,
              actor_type=actor_type, actor_id=actor_id,
              details={"languages": ",".join(agent.languages), "timezone": agent.timezone,
                       "capacity": str(agent.capacity)})
    return agent


async def update_agent(cmd: UpdateAgent, uow: RoutingUow) -> Agent:
    fields = validate_agent_fields(name=cmd.name, languages=cmd.languages, timezone=cmd.timezone,
                                   capacity=cmd.capacity)
    await uow.lock_routing(cmd.tenant_id)
    agent = await _agent_for_update(uow, cmd.tenant_id, cmd.agent_id)
    now = uow.clock.now()
    updated, more_work = apply_update(agent, fields, now)
    await uow.save_agent(updated)
    changed = [name for name in ("name", "languages", "timezone", "capacity")
               if getattr(updated, name) != getattr(agent, name)]
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="agent.updated", resource_type="agent", resource_id=agent.id,
              actor_type=actor_type, actor_id=actor_id, details={"changed_fields": ",".join(changed)})
    if more_work and updated.online:
        await drain_queue(uow, cmd.tenant_id, now)
        updated = await _agent_for_update(uow, cmd.tenant_id, cmd.agent_id)
    return updated


async def set_presence(cmd: SetPresence, uow: RoutingUow) -> Agent:
    status = Presence(cmd.status)
    await uow.lock_routing(cmd.tenant_id)
    agent = await _agent_for_update(uow, cmd.tenant_id, cmd.agent_id)
    now = uow.clock.now()
    if agent.status is not status:
        previous = agent.status
        agent = replace(agent, status=status, updated_at=now)
        await uow.save_agent(agent)
        uow.emit(contracts.presence_changed(agent, now), key=str(agent.id), tenant_id=cmd.tenant_id)
        actor_type, actor_id = _actor(cmd.actor)
        uow.audit(cmd.tenant_id, action="agent.presence_changed", resource_type="agent", resource_id=agent.id,
                  actor_type=actor_type, actor_id=actor_id, details={"from": previous.value, "to": status.value})
    if agent.online:
        if await drain_queue(uow, cmd.tenant_id, now):
            agent = await _agent_for_update(uow, cmd.tenant_id, cmd.agent_id)
    return agent


async def get_agent(uow: RoutingUow, tenant_id: UUID, agent_id: UUID) -> Agent:
    agent = await uow.agents.get(tenant_id, agent_id)
    if agent is None:
        raise AgentNotFound(f"agent {agent_id} not found")
    return agent


async def list_agents(uow: RoutingUow, tenant_id: UUID, cursor: str | None, limit: int | None) -> dict:
    n = clamp_limit(limit)
    items = await uow.agents.list(tenant_id, after=decode_cursor(cursor), limit=n + 1)
    return page(items, n, lambda a: (a.created_at, a.id))


async def list_queue(uow: RoutingUow, tenant_id: UUID, cursor: str | None, limit: int | None) -> dict:
    n = clamp_limit(limit)
    items = await uow.queue.list(tenant_id, after=decode_cursor(cursor), limit=n + 1)
    return page(items, n, lambda i: (i.queued_at, i.conversation_id))


async def _agent_for_update(uow: RoutingUow, tenant_id: UUID, agent_id: UUID) -> Agent:
    await uow.flush_routing()  # pending load changes first
    agent = await uow.agents.get(tenant_id, agent_id, for_update=True)
    if agent is None:
        raise AgentNotFound(f"agent {agent_id} not found")
    return agent


# ---------------------------------------------------------------- decisions


async def _assign(uow: RoutingUow, tenant_id: UUID, conversation_id: UUID, agent: Agent, reason: str,
                  now: datetime) -> None:
    uow.add_assignment(uuid7(), tenant_id, conversation_id, agent.id, reason, now)
    await uow.change_load(tenant_id, agent.id, +1, assigned_at=now)
    uow.emit(contracts.assigned_to_agent(conversation_id, agent.id, reason, now), key=str(conversation_id),
             tenant_id=tenant_id)
    uow.audit(tenant_id, action="assignment.decided", resource_type="conversation", resource_id=conversation_id,
              actor_type="system", actor_id="routing",
              details={"target": "agent", "agent_id": str(agent.id), "reason": reason})
    if log.isEnabledFor(logging.INFO):
        log.info("conversation assigned", extra={"tenant_id": str(tenant_id), "conversation_id": str(conversation_id),
                                                 "agent_id": str(agent.id)})


async def decide(uow: RoutingUow, snap: ConversationSnapshot, now: datetime) -> None:
    """Assign the conversation to the best available agent, or queue it."""
    candidates = await uow.available_agents(snap.tenant_id)
    agent = choose_agent(candidates, snap.language)
    if agent is not None:
        await _assign(uow, snap.tenant_id, snap.conversation_id, agent, f"language:{primary_subtag(snap.language)}",
                      now)
        return
    reason = f"no_available_agent:{primary_subtag(snap.language)}"
    uow.enqueue(QueueItem(tenant_id=snap.tenant_id, conversation_id=snap.conversation_id, language=snap.language,
                          queued_at=now))
    uow.emit(contracts.queued(snap.conversation_id, reason, now), key=str(snap.conversation_id),
             tenant_id=snap.tenant_id)
    uow.audit(snap.tenant_id, action="assignment.decided", resource_type="conversation",
              resource_id=snap.conversation_id, actor_type="system", actor_id="routing",
              details={"target": "queue", "reason": reason})
    if log.isEnabledFor(logging.INFO):
        log.info("conversation queued", extra={"tenant_id": str(snap.tenant_id),
                                               "conversation_id": str(snap.conversation_id)})


async def drain_queue(uow: RoutingUow, tenant_id: UUID, now: datetime) -> int:
    """Hand queued conversations (FIFO) to agents with free capacity; returns how many were assigned."""
    await uow.lock_routing(tenant_id)
    agents = await uow.available_agents(tenant_id)
    if not agents:
        return 0
    waiting = await uow.waiting(tenant_id, DRAIN_BATCH)
    plan = plan_drain(waiting, agents, now)
    await uow.conversations(item.conversation_id for item, _ in plan)
    for item, agent in plan:
        uow.dequeue(tenant_id, item.conversation_id)
        await _assign(uow, tenant_id, item.conversation_id, agent, f"queue:{primary_subtag(item.language)}", now)
    return len(plan)


async def _release(uow: RoutingUow, tenant_id: UUID, conversation_id: UUID, now: datetime) -> UUID | None:
    agent_id = uow.release_assignment(tenant_id, conversation_id, now)
    if agent_id is not None:
        await uow.change_load(tenant_id, agent_id, -1)
    return agent_id


async def on_conversation_event(message: conversations_v1.ConversationOpened | conversations_v1.ConversationUpdated,
                                meta: EventMeta, uow: RoutingUow) -> None:
    """Validate the event and stage it: the unit of work handles a batch's events at commit, in
    order, after locking their tenants and reading their conversations once (``RoutingUow.defer``)."""
    snap = contracts.snapshot(message, meta.tenant_id)
    uow.defer(snap.tenant_id, snap.conversation_id, partial(handle_conversation_event, message, meta, snap))


async def handle_conversation_event(message: conversations_v1.ConversationOpened | conversations_v1.ConversationUpdated,
                                    meta: EventMeta, snap: ConversationSnapshot, uow: RoutingUow) -> None:
    """Project the conversation, then: release the agent of a finished conversation, record a
    manual assignment, or decide for an open conversation with a language and nobody on it."""
    tenant, conversation = snap.tenant_id, snap.conversation_id
    await uow.lock_routing(tenant)
    state = await uow.conversation(conversation)   # read with the rest of the batch (RoutingUow.run_deferred)
    previous = state.snapshot
    if previous is not None and previous.tenant_id != tenant:
        raise ConversationEventInvalid("conversation belongs to another tenant")
    if previous is not None and previous.updated_at and snap.updated_at and snap.updated_at < previous.updated_at:
        log.info("stale conversation event ignored", extra={"conversation_id": str(conversation),
                                                             "event_id": str(meta.id)})
        return
    uow.put_snapshot(snap)
    now = uow.clock.now()
    active = state.active
    chosen = active.agent_id if active is not None and active.tenant_id == tenant else None

    if snap.finished:
        uow.dequeue(tenant, conversation)
        if await _release(uow, tenant, conversation, now) is not None:
            await drain_queue(uow, tenant, now)
        return

    if snap.assignee_agent_id is not None:
        uow.dequeue(tenant, conversation)
        if chosen == snap.assignee_agent_id:
            return  # ticket applied routing's own decision: nothing to decide
        freed = await _release(uow, tenant, conversation, now) if chosen is not None else None
        if await uow.agent_exists(tenant, snap.assignee_agent_id):
            # a human (re)assigned it: the conversation counts toward the new assignee's load
            uow.add_assignment(uuid7(), tenant, conversation, snap.assignee_agent_id, "manual", now)
            await uow.change_load(tenant, snap.assignee_agent_id, +1)
            uow.audit(tenant, action="assignment.recorded", resource_type="conversation", resource_id=conversation,
                      actor_type="system", actor_id="routing",
                      details={"agent_id": str(snap.assignee_agent_id), "reason": "manual",
                               "previous_agent_id": str(chosen or "")})
        if freed is not None:
            await drain_queue(uow, tenant, now)
        return

    if chosen is not None:
        unassigned = (previous is not None and previous.assignee_agent_id == chosen
                      and isinstance(message, conversations_v1.ConversationUpdated)
                      and "assignee_agent_id" in message.changed_fields)
        if not unassigned:
            return  # routing's decision is on its way to ticket
        await _release(uow, tenant, conversation, now)  # a human took the agent off: decide again below

    queued = state.queued
    if queued is not None and queued.tenant_id == tenant:
        if snap.language:
            uow.set_queue_language(tenant, conversation, snap.language)
        return
    if snap.routable:
        await decide(uow, snap, now)
