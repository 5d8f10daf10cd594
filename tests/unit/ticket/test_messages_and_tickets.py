import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from meridian_ticket.domain.conversations import open_conversation
from meridian_ticket.domain.errors import MessageTextInvalid
from meridian_ticket.domain.messages import (
    MAX_TEXT,
    allowed_sources,
    can_transition,
    inbound_message,
    outbound_message,
    validate_reply_text,
)
from meridian_ticket.domain.model import ConversationStatus, Direction, MessageStatus, TicketStatus
from meridian_ticket.domain.tickets import follow_conversation, is_assignment, open_ticket

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)
S = MessageStatus


def conv(**overrides):
    return replace(open_conversation(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), "api", NOW), **overrides)


@pytest.mark.parametrize(("current", "target", "ok"), [
    (S.PENDING, S.SENT, True),
    (S.PENDING, S.DELIVERED, True),
    (S.SENT, S.DELIVERED, True),
    (S.PENDING, S.FAILED, True),
    (S.SENT, S.FAILED, True),
    (S.DELIVERED, S.READ, True),
    (S.DELIVERED, S.FAILED, False),       # never back
    (S.FAILED, S.DELIVERED, False),
    (S.DELIVERED, S.SENT, False),
    (S.DELIVERED, S.DELIVERED, False),    # a repeated report changes nothing
    (S.FAILED, S.FAILED, False),
    (S.RECEIVED, S.DELIVERED, False),     # inbound messages have no delivery
    (S.READ, S.DELIVERED, False),
])
def test_delivery_status_transitions(current, target, ok):
    assert can_transition(current, target) is ok


def test_nothing_moves_back_to_pending_or_received():
    assert allowed_sources(S.PENDING) == frozenset() and allowed_sources(S.RECEIVED) == frozenset()


def test_inbound_message_is_received_without_language():
    c = conv()
    m = inbound_message(uuid.uuid4(), c, "Hola", "ext-1", NOW)
    assert (m.direction, m.status, m.language, m.external_id, m.conversation_id, m.contact_id) == (
        Direction.INBOUND, S.RECEIVED, None, "ext-1", c.id, c.contact_id)
    assert inbound_message(uuid.uuid4(), c, "x", "", NOW).external_id is None


def test_outbound_message_is_pending_in_the_conversations_language():
    agent = uuid.uuid4()
    m = outbound_message(uuid.uuid4(), conv(language="es"), "¡Hola!", agent, NOW)
    assert (m.direction, m.status, m.language, m.sender_agent_id, m.external_id) == (
        Direction.OUTBOUND, S.PENDING, "es", agent, None)


@pytest.mark.parametrize("text", ["", "   \n", "x" * (MAX_TEXT + 1)])
def test_reply_text_must_be_non_empty_and_bounded(text):
    with pytest.raises(MessageTextInvalid):
        validate_reply_text(text)
    assert validate_reply_text("x" * MAX_TEXT)


def test_a_ticket_opens_with_its_conversation():
    c = conv()
    t = open_ticket(uuid.uuid4(), c, NOW)
    assert (t.conversation_id, t.tenant_id, t.status, t.priority, t.assignee_agent_id, t.opened_at) == (
        c.id, c.tenant_id, TicketStatus.OPEN, "normal", None, NOW)


def test_ticket_follows_its_conversations_assignee_and_status():
    c = conv()
    t = open_ticket(uuid.uuid4(), c, NOW)
    agent = uuid.uuid4()
    assigned = follow_conversation(t, replace(c, assignee_agent_id=agent), LATER)
    assert assigned.assignee_agent_id == agent and assigned.updated_at == LATER and is_assignment(t, assigned)
    assert not is_assignment(assigned, follow_conversation(assigned, replace(c, assignee_agent_id=agent), LATER))
    unassigned = follow_conversation(assigned, c, LATER)
    assert unassigned.assignee_agent_id is None and not is_assignment(assigned, unassigned)
    solved = follow_conversation(assigned, replace(c, assignee_agent_id=agent, status=ConversationStatus.RESOLVED),
                                 LATER)
    assert solved.status is TicketStatus.SOLVED and not is_assignment(assigned, solved)
    closed = follow_conversation(t, replace(c, status=ConversationStatus.CLOSED), LATER)
    assert closed.status is TicketStatus.CLOSED
    assert follow_conversation(t, c, LATER) is t
