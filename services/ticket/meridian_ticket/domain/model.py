"""Ticket's domain objects (immutable; rules return changed copies)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(enum.StrEnum):
    RECEIVED = "received"      # inbound
    PENDING = "pending"        # outbound, handed to ingest
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


UNDETERMINED_LANGUAGE = "und"


@dataclass(frozen=True, slots=True)
class Identity:
    """A channel-side id of a contact on one inbox (unique per tenant and inbox)."""

    channel: str
    inbox_id: UUID
    external_id: str


@dataclass(frozen=True, slots=True)
class Contact:
    id: UUID
    tenant_id: UUID
    name: str | None
    email: str | None
    phone: str | None
    created_at: datetime
    identities: tuple[Identity, ...] = ()


@dataclass(frozen=True, slots=True)
class Conversation:
    id: UUID
    tenant_id: UUID
    inbox_id: UUID
    contact_id: UUID
    channel: str
    status: ConversationStatus
    language: str | None
    assignee_agent_id: UUID | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None


@dataclass(frozen=True, slots=True)
class Message:
    id: UUID
    tenant_id: UUID
    conversation_id: UUID
    inbox_id: UUID
    contact_id: UUID
    direction: Direction
    text: str
    language: str | None
    status: MessageStatus
    sender_agent_id: UUID | None
    external_id: str | None
    error: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Ticket:
    id: UUID
    tenant_id: UUID
    conversation_id: UUID
    status: TicketStatus
    priority: str
    assignee_agent_id: UUID | None
    opened_at: datetime
    updated_at: datetime
