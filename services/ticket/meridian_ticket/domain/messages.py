"""Message rules: what a new message looks like and how its delivery status may move.

Inbound messages are ``received``. Outbound messages start ``pending`` and move forward only:
pending → sent; pending | sent → delivered | failed; pending | sent | delivered → read. Nothing
goes back (a late ``sent`` after ``delivered``, or ``delivered`` after ``failed``, is ignored).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from meridian_ticket.domain.errors import MessageTextInvalid
from meridian_ticket.domain.model import Conversation, Direction, Message, MessageStatus

MAX_TEXT = 10_000

_FROM: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.SENT: frozenset({MessageStatus.PENDING}),
    MessageStatus.DELIVERED: frozenset({MessageStatus.PENDING, MessageStatus.SENT}),
    MessageStatus.FAILED: frozenset({MessageStatus.PENDING, MessageStatus.SENT}),
    MessageStatus.READ: frozenset({MessageStatus.PENDING, MessageStatus.SENT, MessageStatus.DELIVERED}),
}


def allowed_sources(target: MessageStatus) -> frozenset[MessageStatus]:
    """The statuses a message may move to ``target`` from (empty: never)."""
    return _FROM.get(target, frozenset())


def can_transition(current: MessageStatus, target: MessageStatus) -> bool:
    return current in allowed_sources(target)


def validate_reply_text(text: str) -> str:
    if not text or not text.strip():
        raise MessageTextInvalid("text must not be empty", errors=[{"field": "text", "message": "must not be empty"}])
    if len(text) > MAX_TEXT:
        raise MessageTextInvalid(f"text must be at most {MAX_TEXT} characters",
                                 errors=[{"field": "text", "message": f"at most {MAX_TEXT} characters"}])
    return text


def inbound_message(message_id: UUID, conversation: Conversation, text: str, external_id: str | None,
                    now: datetime, language: str | None = None) -> Message:
    """A customer message; its language is None until translation's detection is known."""
    return Message(id=message_id, tenant_id=conversation.tenant_id, conversation_id=conversation.id,
                   inbox_id=conversation.inbox_id, contact_id=conversation.contact_id, direction=Direction.INBOUND,
                   text=text, language=language, status=MessageStatus.RECEIVED, sender_agent_id=None,
                   external_id=external_id or None, error=None, created_at=now)


def outbound_message(message_id: UUID, conversation: Conversation, text: str, sender_agent_id: UUID | None,
                     now: datetime) -> Message:
    """An agent's reply, in the conversation's language, pending until ingest reports delivery."""
    return Message(id=message_id, tenant_id=conversation.tenant_id, conversation_id=conversation.id,
                   inbox_id=conversation.inbox_id, contact_id=conversation.contact_id, direction=Direction.OUTBOUND,
                   text=validate_reply_text(text), language=conversation.language, status=MessageStatus.PENDING,
                   sender_agent_id=sender_agent_id, external_id=None, error=None, created_at=now)
