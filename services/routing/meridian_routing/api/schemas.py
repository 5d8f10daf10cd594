"""Public request/response schemas of routing."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from meridian_routing.domain.model import MAX_CAPACITY, MIN_CAPACITY


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, description="unique in the tenant")
    languages: list[str] = Field(min_length=1, max_length=50, description='BCP 47 tags, e.g. "en", "pt-BR"')
    timezone: str = Field(min_length=1, max_length=64, description='IANA time zone, e.g. "Europe/Madrid"')
    capacity: int = Field(ge=MIN_CAPACITY, le=MAX_CAPACITY, description="concurrent conversations")


class AgentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(None, min_length=1, max_length=200)
    languages: list[str] | None = Field(None, min_length=1, max_length=50)
    timezone: str | None = Field(None, min_length=1, max_length=64)
    capacity: int | None = Field(None, ge=MIN_CAPACITY, le=MAX_CAPACITY)


class PresenceUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["online", "away", "offline"]


class AgentRead(BaseModel):
    id: UUID
    name: str
    email: str
    languages: list[str]
    timezone: str
    capacity: int
    status: str
    active_conversations: int
    created_at: datetime


class AgentList(BaseModel):
    items: list[AgentRead]
    next_cursor: str | None


class QueueItemRead(BaseModel):
    conversation_id: UUID
    language: str
    queued_at: datetime


class QueueList(BaseModel):
    items: list[QueueItemRead]
    next_cursor: str | None
