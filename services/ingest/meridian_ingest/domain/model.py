"""Ingest's domain objects."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Inbox:
    id: UUID
    tenant_id: UUID
    name: str
    channel: str
    settings: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class InboxCredentials:
    """What the webhook path and the delivery worker need of an inbox (kept in the secret cache)."""

    id: UUID
    tenant_id: UUID
    channel: str
    settings: dict[str, Any]
    secret: str


@dataclass(frozen=True, slots=True)
class Sender:
    id: str
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A channel message after verification and parsing, before dedupe."""

    external_id: str
    thread_id: str
    sender: Sender
    text: str
    sent_at: datetime | None = None


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: UUID
    tenant_id: UUID
    message_id: str
    conversation_id: str
    inbox_id: UUID
    channel: str
    recipient_id: str
    text: str
    language: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    delivered_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
