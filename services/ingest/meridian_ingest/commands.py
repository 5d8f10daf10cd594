"""Ingest's commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CreateInbox:
    tenant_id: UUID
    actor: str
    name: str
    channel: str
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeleteInbox:
    tenant_id: UUID
    actor: str
    inbox_id: UUID
