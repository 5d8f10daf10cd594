"""Public request/response schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from meridian_ticket.domain.messages import MAX_TEXT
from meridian_ticket.domain.model import Contact, Conversation, Message, Ticket

ConversationStatusIn = Literal["open", "resolved", "closed"]
TicketStatusIn = Literal["open", "pending", "solved", "closed"]


class ConversationRead(BaseModel):
    id: UUID
    inbox_id: UUID
    contact_id: UUID
    channel: str
    status: str
    language: str | None
    assignee_agent_id: UUID | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None

    @classmethod
    def of(cls, c: Conversation) -> ConversationRead:
        return cls(id=c.id, inbox_id=c.inbox_id, contact_id=c.contact_id, channel=c.channel, status=c.status.value,
                   language=c.language, assignee_agent_id=c.assignee_agent_id, created_at=c.created_at,
                   updated_at=c.updated_at, last_message_at=c.last_message_at)


class ConversationList(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: ConversationStatusIn | None = None
    assignee_agent_id: UUID | None = None


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=1, max_length=MAX_TEXT)


class MessageRead(BaseModel):
    id: UUID
    conversation_id: UUID
    inbox_id: UUID
    contact_id: UUID
    direction: str
    text: str
    language: str | None
    status: str
    sender_agent_id: UUID | None
    external_id: str | None
    created_at: datetime
    error: str | None

    @classmethod
    def of(cls, m: Message) -> MessageRead:
        return cls(id=m.id, conversation_id=m.conversation_id, inbox_id=m.inbox_id, contact_id=m.contact_id,
                   direction=m.direction.value, text=m.text, language=m.language, status=m.status.value,
                   sender_agent_id=m.sender_agent_id, external_id=m.external_id, created_at=m.created_at,
                   error=m.error)


class MessageList(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None


class IdentityRead(BaseModel):
    channel: str
    inbox_id: UUID
    external_id: str


class ContactRead(BaseModel):
    id: UUID
    name: str | None
    email: str | None
    phone: str | None
    created_at: datetime
    identities: list[IdentityRead]

    @classmethod
    def of(cls, c: Contact) -> ContactRead:
        return cls(id=c.id, name=c.name, email=c.email, phone=c.phone, created_at=c.created_at,
                   identities=[IdentityRead(channel=i.channel, inbox_id=i.inbox_id, external_id=i.external_id)
                               for i in c.identities])


class ContactList(BaseModel):
    items: list[ContactRead]
    next_cursor: str | None


class TicketRead(BaseModel):
    id: UUID
    conversation_id: UUID
    status: str
    priority: str
    assignee_agent_id: UUID | None
    opened_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: Ticket) -> TicketRead:
        return cls(id=t.id, conversation_id=t.conversation_id, status=t.status.value, priority=t.priority,
                   assignee_agent_id=t.assignee_agent_id, opened_at=t.opened_at, updated_at=t.updated_at)


class TicketList(BaseModel):
    items: list[TicketRead]
    next_cursor: str | None
