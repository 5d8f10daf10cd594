"""Routing's commands."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CreateAgent:
    tenant_id: UUID
    actor: str
    name: str
    email: str
    languages: list[str]
    timezone: str
    capacity: int


@dataclass(frozen=True, slots=True)
class UpdateAgent:
    tenant_id: UUID
    actor: str
    agent_id: UUID
    name: str | None = None
    languages: list[str] | None = None
    timezone: str | None = None
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class SetPresence:
    tenant_id: UUID
    actor: str
    agent_id: UUID
    status: str
