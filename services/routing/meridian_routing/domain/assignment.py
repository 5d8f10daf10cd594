"""Who gets a conversation: the assignment rules and the queue order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from meridian_routing.domain.language import speaks
from meridian_routing.domain.model import Agent, QueueItem

_NEVER = datetime.min.replace(tzinfo=UTC)


def eligible(agent: Agent, language: str) -> bool:
    """Online, speaks the language (primary subtag) and has free capacity."""
    return agent.online and agent.active_conversations < agent.capacity and speaks(agent.languages, language)


def choose_agent(candidates: Iterable[Agent], language: str) -> Agent | None:
    """The eligible agent with the fewest active conversations; ties go to the one assigned least
    recently (never assigned first), then to the oldest agent, then by id (deterministic)."""
    best: Agent | None = None
    best_key: tuple | None = None
    for agent in candidates:
        if not eligible(agent, language):
            continue
        key = (agent.active_conversations, agent.last_assigned_at or _NEVER, agent.created_at, agent.id)
        if best_key is None or key < best_key:
            best, best_key = agent, key
    return best


def queue_order(items: Iterable[QueueItem]) -> list[QueueItem]:
    """FIFO: the longest waiting first (ties by conversation id)."""
    return sorted(items, key=lambda i: (i.queued_at, i.conversation_id))


def plan_drain(queue: Iterable[QueueItem], agents: Sequence[Agent], now: datetime
               ) -> list[tuple[QueueItem, Agent]]:
    """Assign queued conversations in FIFO order to agents while someone suitable has capacity.
    Returns (item, agent as it was chosen) pairs; agents' loads are counted as the plan proceeds, so
    no agent is overfilled. A conversation nobody can take keeps its place and later ones may pass."""
    pool: dict[UUID, Agent] = {a.id: a for a in agents}
    plan: list[tuple[QueueItem, Agent]] = []
    for item in queue_order(queue):
        if not any(a.online and a.active_conversations < a.capacity for a in pool.values()):
            break
        chosen = choose_agent(pool.values(), item.language)
        if chosen is None:
            continue
        plan.append((item, chosen))
        pool[chosen.id] = chosen.assigned(now)
    return plan
