"""Tenants and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

DEMO_TENANT_NAME = "Demo shop"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: UUID
    name: str
    region: str
    created_at: datetime
    is_demo: bool = False


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: UUID
    tenant_id: UUID
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant and the API key it authenticated with."""

    tenant_id: UUID
    key_id: UUID
