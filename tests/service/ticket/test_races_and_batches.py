"""One consumer group for ticket's four topics; the race paths of inbound threading (a concurrent
first message of a sender, a concurrent new conversation); the repository's one-statement inserts."""

import uuid
from dataclasses import replace

from meridian.bus.base import Record
from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.ingest import messages_v1_pb2 as ingest_v1
from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1
from meridian.contracts.translation import messages_v1_pb2 as translation_v1
from meridian.events.envelope import new_meta, to_record
from meridian_ticket import tables
from meridian_ticket.consumers import SUBSCRIPTIONS
from meridian_ticket.domain import contacts as contact_rules
from meridian_ticket.domain import conversations as conversation_rules
from meridian_ticket.domain import messages as message_rules
from meridian_ticket.domain import tickets as ticket_rules
from meridian_ticket.domain.model import Identity
from meridian_ticket.repository import ContactRepository, InboundLookup
from sqlalchemy import func, select
from uuid6 import uuid7

from tests.service.ticket.conftest import (
    AUDIT,
    CONVERSATIONS,
    MESSAGES,
    TICKETS,
    events,
    get_json,
    receive,
    received,
)


def test_ticket_consumes_its_four_topics_in_one_group():
    [sub] = SUBSCRIPTIONS
    assert sub.group == "ticket.events"
    assert sorted(sub.topics) == ["ingest.deliveries.v1", "ingest.messages.v1", "routing.assignments.v1",
                                  "translation.messages.v1"]
    assert set(sub.handlers) == {ingest_v1.MessageReceived, translation_v1.MessageTranslated,
                                 assignments_v1.AssignmentDecided, deliveries_v1.DeliveryUpdated}


def _record(topic: str, msg, tenant, key: str) -> Record:
    return to_record(topic, msg, new_meta(msg, tenant_id=str(tenant), source="test", key=key))


async def test_one_batch_mixing_the_four_topics_on_one_conversation(ticket):
    await ticket.reset()
    tenant, inbox, agent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(inbox, text="uno"))
    [(_, first)] = events(ticket, MESSAGES, messages_v1.MessageThreaded, tenant)
    conv_id = first.conversation_id
    reply = (await ticket.client.post(f"/api/v1/conversations/{conv_id}/messages", headers=ticket.headers(tenant),
                                      json={"text": "hola"})).json()
    await ticket.drained()
    second = received(inbox, text="dos")
    await ticket.bus.publish([      # one publish → one batch → one transaction of ticket.events
        _record("translation.messages.v1", translation_v1.MessageTranslated(
            message_id=first.message_id, conversation_id=conv_id, detected_language="es", confidence=0.9),
            tenant, conv_id),
        _record("ingest.messages.v1", second, tenant, f"{inbox}:cust-1"),
        _record("routing.assignments.v1", assignments_v1.AssignmentDecided(
            conversation_id=conv_id, target=assignments_v1.ASSIGNMENT_TARGET_AGENT, agent_id=str(agent)),
            tenant, conv_id),
        _record("ingest.deliveries.v1", deliveries_v1.DeliveryUpdated(
            message_id=reply["id"], conversation_id=conv_id, status=deliveries_v1.DELIVERY_STATUS_DELIVERED),
            tenant, conv_id),
    ])
    await ticket.drained()
    conv = await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}")
    assert (conv["language"], conv["assignee_agent_id"]) == ("es", str(agent))
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    assert [(m["text"], m["status"], m["language"]) for m in items] == [
        ("uno", "received", "es"), ("hola", "delivered", None), ("dos", "received", None)]
    assert conv["last_message_at"] == items[-1]["created_at"]
    # the batch's order across topics is the bus's: compare as sets
    assert sorted(list(m.changed_fields) for _, m in events(ticket, CONVERSATIONS, conversations_v1.ConversationUpdated,
                                                            tenant)) == [["assignee_agent_id"], ["language"]]
    assert len(events(ticket, TICKETS, tickets_v1.TicketAssigned, tenant)) == 1
    assert len(events(ticket, MESSAGES, messages_v1.MessageThreaded, tenant)) == 2
    assert [m.status for _, m in events(ticket, MESSAGES, messages_v1.MessageUpdated, tenant)] == ["delivered"]
    assert [r for r in ticket.bus.records("ticket.events.dlq") if dict(r.headers)["ce_tenant"] == str(tenant).encode()
            ] == []


def _blind_once(monkeypatch, hide):
    """The next lookup_inbound misses what ``hide`` removes, as if a concurrent transaction had
    written it just after the lookup."""
    real = ContactRepository.lookup_inbound
    calls = []

    async def lookup(self, *args, **kwargs):
        found = await real(self, *args, **kwargs)
        calls.append(found)
        return hide(found) if len(calls) == 1 else found

    monkeypatch.setattr(ContactRepository, "lookup_inbound", lookup)
    return calls


async def test_a_concurrent_first_message_of_the_sender_wins_and_the_message_joins_its_conversation(
        ticket, monkeypatch):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(inbox, sender_id="s-1", email="s1@x.io", text="uno"))
    calls = _blind_once(monkeypatch, lambda _: InboundLookup())     # looks like a brand-new sender
    await receive(ticket, tenant, received(inbox, sender_id="s-1", email="s1@x.io", text="dos"))
    assert len(calls) == 2                                          # resolved again after the lost race
    contacts = (await get_json(ticket, tenant, "/api/v1/contacts"))["items"]
    assert len(contacts) == 1                                       # the losing contact was discarded
    assert len(events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)) == 1
    threaded = [m for _, m in events(ticket, MESSAGES, messages_v1.MessageThreaded, tenant)]
    assert len(threaded) == 2 and threaded[0].conversation_id == threaded[1].conversation_id
    assert [a.action for _, a in events(ticket, AUDIT, tenant=tenant)].count("contact.created") == 1


async def test_a_concurrent_new_conversation_is_joined_instead_of_opening_another(ticket, monkeypatch):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(inbox, text="uno"))
    calls = _blind_once(monkeypatch, lambda found: replace(found, open_conversations={}))
    await receive(ticket, tenant, received(inbox, text="dos"))
    assert len(calls) == 1
    assert len(events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)) == 1
    assert len(events(ticket, TICKETS, tickets_v1.TicketOpened, tenant)) == 1
    threaded = [m for _, m in events(ticket, MESSAGES, messages_v1.MessageThreaded, tenant)]
    assert len(threaded) == 2 and threaded[0].conversation_id == threaded[1].conversation_id
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{threaded[0].conversation_id}/messages"))
    assert [m["text"] for m in items["items"]] == ["uno", "dos"]
    tickets = (await get_json(ticket, tenant, "/api/v1/tickets"))["items"]
    assert len(tickets) == 1


async def _count(uow, table, **where) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    return await uow.conn.scalar(query)


async def test_repository_inserts_a_new_sender_whole_or_not_at_all(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    async with ticket.kit.uow() as uow:
        now = uow.clock.now()
        sender = contact_rules.SenderInfo(id="s-9", email="s9@x.io")

        def new_sender(external_id: str | None):
            contact = contact_rules.new_contact(uuid7(), tenant, "api", sender, now)
            conversation = conversation_rules.open_conversation(uuid7(), tenant, inbox, contact.id, "api", now)
            ticket_ = ticket_rules.open_ticket(uuid7(), conversation, now)
            message = message_rules.inbound_message(uuid7(), conversation, "hola", external_id, now)
            return contact, conversation, ticket_, message

        identity = Identity("api", inbox, "s-9")
        contact, conversation, ticket_, message = new_sender("ext-1")
        assert await uow.contacts.add_with_conversation(contact, identity, conversation, ticket_, message) is True
        assert await _count(uow, tables.messages, conversation_id=conversation.id) == 1
        assert await _count(uow, tables.tickets, conversation_id=conversation.id) == 1
        row = (await uow.conn.execute(select(tables.conversations).where(
            tables.conversations.c.id == conversation.id))).one()
        assert (row.last_message_at, row.updated_at, row.status) == (now, now, "open")

        # the same identity again (a concurrent first message won): nothing but the contact is written
        again = new_sender("ext-2")
        loser = replace(again[0], email=None)
        assert await uow.contacts.add_with_conversation(loser, identity, *again[1:]) is None
        assert await _count(uow, tables.conversations, id=again[1].id) == 0
        assert await _count(uow, tables.messages, id=again[3].id) == 0
        assert await _count(uow, tables.contacts, id=loser.id) == 1
        await uow.contacts.discard(tenant, loser.id)
        assert await _count(uow, tables.contacts, id=loser.id) == 0

        # the same e-mail under another identity: the contact itself conflicts, nothing is written
        other = new_sender("ext-3")
        assert await uow.contacts.add_with_conversation(other[0], Identity("api", inbox, "s-10"), *other[1:]) is None
        assert await _count(uow, tables.contacts, id=other[0].id) == 0
        assert await _count(uow, tables.contact_identities, tenant_id=tenant) == 1

        # a new sender whose message's external id exists: stored without the message
        dup = new_sender("ext-1")
        dup_contact = replace(dup[0], email=None)
        assert await uow.contacts.add_with_conversation(dup_contact, Identity("api", inbox, "s-11"), *dup[1:]) is False
        assert await _count(uow, tables.conversations, id=dup[1].id) == 1
        assert await _count(uow, tables.messages, id=dup[3].id) == 0

        # a second open conversation for a contact is refused whole; add_with_ticket writes nothing
        second = conversation_rules.open_conversation(uuid7(), tenant, inbox, contact.id, "api", now)
        second_message = message_rules.inbound_message(uuid7(), second, "otra", "ext-4", now)
        assert await uow.conversations.add_with_ticket(second, ticket_rules.open_ticket(uuid7(), second, now),
                                                       second_message) is None
        assert await _count(uow, tables.conversations, id=second.id) == 0
        assert await _count(uow, tables.messages, id=second_message.id) == 0
