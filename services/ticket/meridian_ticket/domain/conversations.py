"""Conversation rules: threading, status transitions, assignment, language.

Threading: an inbound message goes into the OPEN conversation of its (inbox, contact); when there is
none (never one, or the last one was resolved or closed) a new conversation is opened. A resolved
conversation is never reused for inbound messages (at most one open conversation per inbox and
contact: a partial unique index holds it).

Status: open → resolved | closed; resolved → open | closed; closed is final.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from uuid import UUID

from meridian_ticket.domain.errors import ConversationClosed
from meridian_ticket.domain.model import UNDETERMINED_LANGUAGE, Conversation, ConversationStatus

TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    ConversationStatus.OPEN: frozenset({ConversationStatus.RESOLVED, ConversationStatus.CLOSED}),
    ConversationStatus.RESOLVED: frozenset({ConversationStatus.OPEN, ConversationStatus.CLOSED}),
    ConversationStatus.CLOSED: frozenset(),
}


def needs_new_conversation(current: Conversation | None) -> bool:
    """True when an inbound message cannot be threaded into ``current`` (the latest conversation of
    its inbox and contact, if any)."""
    return current is None or current.status is not ConversationStatus.OPEN


def open_conversation(conversation_id: UUID, tenant_id: UUID, inbox_id: UUID, contact_id: UUID, channel: str,
                      now: datetime) -> Conversation:
    return Conversation(id=conversation_id, tenant_id=tenant_id, inbox_id=inbox_id, contact_id=contact_id,
                        channel=channel, status=ConversationStatus.OPEN, language=None, assignee_agent_id=None,
                        created_at=now, updated_at=now, last_message_at=now)


def change_status(conversation: Conversation, status: ConversationStatus, now: datetime) -> Conversation | None:
    """The conversation with its new status; None when it already has it. Closed is final."""
    if status is conversation.status:
        return None
    if conversation.status is ConversationStatus.CLOSED:
        raise ConversationClosed(f"conversation {conversation.id} is closed")
    if status not in TRANSITIONS[conversation.status]:  # pragma: no cover - every other pair is allowed
        raise ConversationClosed(f"cannot go from {conversation.status} to {status}")
    return replace(conversation, status=status, updated_at=now)


def assign(conversation: Conversation, agent_id: UUID | None, now: datetime, *, manual: bool) -> Conversation | None:
    """The conversation with its new assignee; None when nothing changes.

    A manual assignment (an agent or admin) works on open and resolved conversations and fails on
    closed ones; a routing decision only applies to an open conversation (a decision that arrives
    after the conversation was resolved or closed is stale and ignored).
    """
    if conversation.status is ConversationStatus.CLOSED:
        if manual:
            raise ConversationClosed(f"conversation {conversation.id} is closed")
        return None
    if not manual and conversation.status is not ConversationStatus.OPEN:
        return None
    if conversation.assignee_agent_id == agent_id:
        return None
    return replace(conversation, assignee_agent_id=agent_id, updated_at=now)


def ensure_can_reply(conversation: Conversation) -> None:
    if conversation.status is ConversationStatus.CLOSED:
        raise ConversationClosed(f"conversation {conversation.id} is closed")


def language_after_detection(current: str | None, detected: str, *, latest: bool) -> str | None:
    """The conversation's new language after a customer message's language was detected; None when
    it does not change. The customer's latest message decides; an undetermined detection ("und")
    never replaces a known language (but gives routing a value when there was none)."""
    if not latest or not detected or detected == current:
        return None
    if detected == UNDETERMINED_LANGUAGE and current:
        return None
    return detected
