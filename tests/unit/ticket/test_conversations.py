import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from meridian_ticket.domain.conversations import (
    assign,
    change_status,
    ensure_can_reply,
    language_after_detection,
    needs_new_conversation,
    open_conversation,
)
from meridian_ticket.domain.errors import ConversationClosed
from meridian_ticket.domain.model import ConversationStatus

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def conv(**overrides):
    c = open_conversation(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "api", NOW)
    return replace(c, **overrides)


def test_a_new_conversation_is_open_without_language_or_assignee():
    c = conv()
    assert (c.status, c.language, c.assignee_agent_id, c.created_at, c.last_message_at) == (
        ConversationStatus.OPEN, None, None, NOW, NOW)


def test_threads_into_the_open_conversation():
    assert needs_new_conversation(conv()) is False


def test_a_new_conversation_after_resolve_or_close_or_none():
    assert needs_new_conversation(None) is True
    assert needs_new_conversation(conv(status=ConversationStatus.RESOLVED)) is True
    assert needs_new_conversation(conv(status=ConversationStatus.CLOSED)) is True


def test_status_transitions():
    c = conv()
    resolved = change_status(c, ConversationStatus.RESOLVED, LATER)
    assert resolved.status is ConversationStatus.RESOLVED and resolved.updated_at == LATER
    assert change_status(resolved, ConversationStatus.OPEN, LATER).status is ConversationStatus.OPEN
    assert change_status(resolved, ConversationStatus.CLOSED, LATER).status is ConversationStatus.CLOSED
    assert change_status(c, ConversationStatus.OPEN, LATER) is None          # unchanged: no event
    closed = conv(status=ConversationStatus.CLOSED)
    for target in (ConversationStatus.OPEN, ConversationStatus.RESOLVED):
        with pytest.raises(ConversationClosed):
            change_status(closed, target, LATER)


def test_routing_assignment_applies_to_open_conversations_only():
    agent = uuid.uuid4()
    assigned = assign(conv(), agent, LATER, manual=False)
    assert assigned.assignee_agent_id == agent and assigned.updated_at == LATER
    assert assign(assigned, agent, LATER, manual=False) is None               # same agent again: no change
    assert assign(conv(status=ConversationStatus.RESOLVED), agent, LATER, manual=False) is None
    assert assign(conv(status=ConversationStatus.CLOSED), agent, LATER, manual=False) is None


def test_manual_assignment_and_unassignment():
    agent = uuid.uuid4()
    assert assign(conv(status=ConversationStatus.RESOLVED), agent, LATER, manual=True).assignee_agent_id == agent
    assert assign(conv(assignee_agent_id=agent), None, LATER, manual=True).assignee_agent_id is None
    with pytest.raises(ConversationClosed):
        assign(conv(status=ConversationStatus.CLOSED), agent, LATER, manual=True)


def test_cannot_reply_on_a_closed_conversation():
    ensure_can_reply(conv())
    ensure_can_reply(conv(status=ConversationStatus.RESOLVED))
    with pytest.raises(ConversationClosed):
        ensure_can_reply(conv(status=ConversationStatus.CLOSED))


def test_language_follows_the_customers_latest_message():
    assert language_after_detection(None, "es", latest=True) == "es"
    assert language_after_detection("es", "de", latest=True) == "de"
    assert language_after_detection("es", "es", latest=True) is None
    assert language_after_detection("es", "de", latest=False) is None          # an older message: no change
    assert language_after_detection(None, "und", latest=True) == "und"
    assert language_after_detection("es", "und", latest=True) is None          # unsure never replaces a language
