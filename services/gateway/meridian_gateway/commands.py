"""Gateway use-case commands."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CreateTenant:
    name: str
    region: str
    allowed_regions: tuple[str, ...]
    is_demo: bool = False
    api_key: str | None = None  # the admin key to register (None: generate one)


@dataclass(frozen=True, slots=True)
class CreateApiKey:
    tenant_id: UUID
    name: str
    actor_id: str = ""
    api_key: str | None = None  # None: generate one


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    tenant_id: UUID
    key_id: UUID
    actor_id: str = ""
