"""Public request/response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class InboxCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=50)
    settings: dict[str, Any] = Field(default_factory=dict)


class InboxRead(BaseModel):
    id: UUID
    name: str
    channel: str
    settings: dict[str, Any]
    created_at: datetime


class InboxCreated(InboxRead):
    secret: str  # shown only in the create response


class InboxList(BaseModel):
    items: list[InboxRead]
    next_cursor: str | None


class DeliveryRead(BaseModel):
    id: UUID
    message_id: str
    conversation_id: str
    inbox_id: UUID
    channel: str
    recipient_id: str
    status: str
    attempts: int
    error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None


class WebhookAccepted(BaseModel):
    status: str
    id: str
