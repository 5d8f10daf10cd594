"""Public response schemas of /api/v1/audit-events."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel


class AuditEventRead(BaseModel):
    id: UUID
    seq: int
    occurred_at: datetime
    recorded_at: datetime
    service: str
    actor_type: str
    actor_id: str
    action: str
    resource_type: str
    resource_id: str
    details: dict[str, str]
    hash: str          # hex
    prev_hash: str     # hex; 64 zeros for a tenant's first record


class AuditEventList(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None


class ChainVerification(BaseModel):
    valid: bool
    checked: int
    first_broken_seq: int | None
