"""Agents, conversation snapshots and queue items."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from meridian_routing.domain.errors import AgentInvalid
from meridian_routing.domain.language import InvalidLanguageTag, normalise_languages

MIN_CAPACITY = 1
MAX_CAPACITY = 100
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


# conversation statuses (ticket's vocabulary) that end an assignment, and the one routing decides on
FINISHED_STATUSES = frozenset({"resolved", "closed"})
OPEN_STATUS = "open"


@dataclass(frozen=True, slots=True)
class Agent:
    id: UUID
    tenant_id: UUID
    name: str
    email: str
    languages: tuple[str, ...]
    timezone: str
    capacity: int
    status: Presence
    active_conversations: int
    created_at: datetime
    updated_at: datetime
    last_assigned_at: datetime | None = None

    @property
    def online(self) -> bool:
        return self.status is Presence.ONLINE

    @property
    def free_capacity(self) -> int:
        return max(0, self.capacity - self.active_conversations)

    def assigned(self, at: datetime) -> Agent:
        return replace(self, active_conversations=self.active_conversations + 1, last_assigned_at=at)


@dataclass(frozen=True, slots=True)
class AgentFields:
    """Validated, normalised editable fields of an agent (None = unchanged in an update)."""

    name: str | None = None
    email: str | None = None
    languages: tuple[str, ...] | None = None
    timezone: str | None = None
    capacity: int | None = None


def validate_agent_fields(*, name: str | None = None, email: str | None = None, languages: list[str] | None = None,
                          timezone: str | None = None, capacity: int | None = None) -> AgentFields:
    """Normalise and check each given field; every problem is reported at once (AgentInvalid)."""
    errors: list[dict[str, str]] = []
    out: dict[str, object] = {}
    if name is not None:
        if not name.strip() or len(name) > 200:
            errors.append({"field": "name", "message": "must be 1..200 characters"})
        out["name"] = name.strip()
    if email is not None:
        value = email.strip().lower()
        if len(value) > 320 or not _EMAIL.match(value):
            errors.append({"field": "email", "message": "is not a valid email address"})
        out["email"] = value
    if languages is not None:
        try:
            normalised = normalise_languages(languages)
        except InvalidLanguageTag as exc:
            errors.append({"field": "languages", "message": str(exc)})
            normalised = []
        else:
            if not normalised:
                errors.append({"field": "languages", "message": "must list at least one language"})
        out["languages"] = tuple(normalised)
    if timezone is not None:
        if not is_timezone(timezone):
            errors.append({"field": "timezone", "message": f"{timezone!r} is not an IANA time zone"})
        out["timezone"] = timezone
    if capacity is not None:
        if not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
            errors.append({"field": "capacity", "message": f"must be {MIN_CAPACITY}..{MAX_CAPACITY}"})
        out["capacity"] = capacity
    if errors:
        raise AgentInvalid("; ".join(f"{e['field']} {e['message']}" for e in errors), errors=errors)
    return AgentFields(**out)  # type: ignore[arg-type]


def is_timezone(name: str) -> bool:
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def new_agent(id: UUID, tenant_id: UUID, fields: AgentFields, now: datetime) -> Agent:
    assert fields.name is not None and fields.email is not None and fields.languages is not None
    assert fields.timezone is not None and fields.capacity is not None
    return Agent(id=id, tenant_id=tenant_id, name=fields.name, email=fields.email, languages=fields.languages,
                 timezone=fields.timezone, capacity=fields.capacity, status=Presence.OFFLINE,
                 active_conversations=0, created_at=now, updated_at=now)


def apply_update(agent: Agent, fields: AgentFields, now: datetime) -> tuple[Agent, bool]:
    """The updated agent, and whether the change can let it take more work (drain the queue)."""
    updated = replace(
        agent,
        name=fields.name if fields.name is not None else agent.name,
        languages=fields.languages if fields.languages is not None else agent.languages,
        timezone=fields.timezone if fields.timezone is not None else agent.timezone,
        capacity=fields.capacity if fields.capacity is not None else agent.capacity,
        updated_at=now,
    )
    more_work = updated.capacity > agent.capacity or bool(set(updated.languages) - set(agent.languages))
    return updated, more_work


@dataclass(frozen=True, slots=True)
class ConversationSnapshot:
    tenant_id: UUID
    conversation_id: UUID
    inbox_id: str
    status: str
    language: str
    assignee_agent_id: UUID | None
    updated_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def routable(self) -> bool:
        """Open, with a language and nobody assigned: routing must decide."""
        return self.status == OPEN_STATUS and bool(self.language) and self.assignee_agent_id is None


@dataclass(frozen=True, slots=True)
class QueueItem:
    tenant_id: UUID
    conversation_id: UUID
    language: str
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class Assignment:
    conversation_id: UUID
    agent_id: UUID
    reason: str
    extra: dict[str, str] = field(default_factory=dict)
