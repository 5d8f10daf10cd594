"""Public schemas of the gateway's own resources."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class TenantCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    region: str = Field(min_length=1, max_length=16, examples=["eu"])


class TenantRead(BaseModel):
    id: UUID
    name: str
    region: str
    created_at: datetime


class TenantCreated(TenantRead):
    api_key: str = Field(description="The tenant's admin API key; shown once.")


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class ApiKeyRead(BaseModel):
    id: UUID
    name: str
    role: str
    prefix: str = Field(description="The key's first characters, for display.")
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyRead):
    api_key: str = Field(description="The API key; shown once.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyRead]
    next_cursor: str | None = None
