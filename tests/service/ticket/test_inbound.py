"""Flow step 2: MessageReceived → contact, conversation (+ ticket), message (MessageCreated waits for
its language: test_flow)."""

import uuid

from meridian.bus.base import Record
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1
from meridian.events.envelope import new_meta, to_record

from tests.service.ticket.conftest import (
    AUDIT,
    CONVERSATIONS,
    MESSAGES,
    TICKETS,
    events,
    get_json,
    receive,
    received,
    stored_messages,
)


async def test_first_message_opens_contact_conversation_ticket_and_threads_the_message(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    msg = received(inbox, sender_id="cust-1", name="Ana", email="Ana@Example.com", text="Hola")
    await receive(ticket, tenant, msg)

    [(meta_opened, opened)] = events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)
    assert (opened.inbox_id, opened.channel, opened.status, opened.language) == (str(inbox), "api", "open", "")
    assert meta_opened.partition_key == opened.conversation_id
    [(_, ticket_opened)] = events(ticket, TICKETS, tickets_v1.TicketOpened, tenant)
    assert (ticket_opened.conversation_id, ticket_opened.status, ticket_opened.priority) == (
        opened.conversation_id, "open", "normal")
    [threaded] = await stored_messages(ticket, tenant)
    assert (threaded.conversation_id, threaded.inbox_id, threaded.text) == (opened.conversation_id, str(inbox), "Hola")
    assert events(ticket, MESSAGES, tenant=tenant) == []   # MessageCreated comes with the language

    conv = await get_json(ticket, tenant, f"/api/v1/conversations/{opened.conversation_id}")
    assert (conv["status"], conv["language"], conv["assignee_agent_id"], conv["contact_id"]) == (
        "open", None, None, opened.contact_id)
    contact = await get_json(ticket, tenant, f"/api/v1/contacts/{opened.contact_id}")
    assert (contact["name"], contact["email"], contact["phone"]) == ("Ana", "ana@example.com", None)
    assert contact["identities"] == [{"channel": "api", "inbox_id": str(inbox), "external_id": "cust-1"}]
    [m] = (await get_json(ticket, tenant, f"/api/v1/conversations/{opened.conversation_id}/messages"))["items"]
    assert (m["id"], m["direction"], m["status"], m["language"], m["text"], m["external_id"], m["error"]) == (
        threaded.message_id, "inbound", "received", None, "Hola", msg.external_id, None)
    t = await get_json(ticket, tenant, f"/api/v1/tickets/{ticket_opened.ticket_id}")
    assert (t["conversation_id"], t["status"], t["assignee_agent_id"]) == (opened.conversation_id, "open", None)
    actions = sorted(m.action for _, m in events(ticket, AUDIT, tenant=tenant))
    assert actions == ["contact.created", "conversation.opened", "ticket.opened"]


async def test_the_same_event_twice_and_a_redelivered_external_id_store_one_message(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    msg = received(inbox, external_id="wamid-1")
    meta = new_meta(msg, tenant_id=str(tenant), source="test", key=f"{inbox}:cust-1")
    record = to_record("ingest.messages.v1", msg, meta)
    await ticket.bus.publish([record, record])                     # same event id twice
    await ticket.drained()
    await receive(ticket, tenant, msg)                             # same external id, new event id
    [threaded] = await stored_messages(ticket, tenant)
    assert len(events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)) == 1
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{threaded.conversation_id}/messages"))["items"]
    assert [m["id"] for m in items] == [threaded.message_id]


async def test_two_messages_of_one_sender_share_one_conversation(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(inbox, text="uno"))
    await receive(ticket, tenant, received(inbox, text="dos"))
    threaded = await stored_messages(ticket, tenant)
    assert len(threaded) == 2 and threaded[0].conversation_id == threaded[1].conversation_id
    assert len(events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)) == 1
    assert len(events(ticket, TICKETS, tickets_v1.TicketOpened, tenant)) == 1
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{threaded[0].conversation_id}/messages"))["items"]
    assert [m["text"] for m in items] == ["uno", "dos"]


async def test_two_first_messages_in_one_batch_make_one_contact_and_one_conversation(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    records: list[Record] = []
    for text in ("a", "b", "c"):
        msg = received(inbox, sender_id="new-sender", text=text, email="new@x.io")
        records.append(to_record("ingest.messages.v1", msg,
                                 new_meta(msg, tenant_id=str(tenant), source="test", key=f"{inbox}:new-sender")))
    await ticket.bus.publish(records)          # one publish → one batch for the consumer
    await ticket.drained()
    assert len(events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)) == 1
    assert len({m.conversation_id for m in await stored_messages(ticket, tenant)}) == 1
    contacts = (await get_json(ticket, tenant, "/api/v1/contacts"))["items"]
    assert len(contacts) == 1
    assert [a.action for _, a in events(ticket, AUDIT, tenant=tenant)].count("contact.created") == 1


async def test_a_mixed_batch_resolves_each_message_as_if_handled_alone(ticket):
    """One batch: known senders of two tenants, a duplicate, a sender new in the batch writing twice,
    and a second sender matching that new contact by e-mail; the batch's one lookup must not be
    trusted once an earlier event of it changed the tenant's contacts."""
    await ticket.reset()
    tenant, other, inbox, inbox2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(inbox, sender_id="known", external_id="k-1"))
    await receive(ticket, other, received(inbox, sender_id="known", external_id="k-1"))
    before = {m.conversation_id for m in await stored_messages(ticket)}

    batch = [(tenant, received(inbox, sender_id="known", external_id="k-2", text="again")),
             (tenant, received(inbox, sender_id="known", external_id="k-1", text="stored before")),
             (tenant, received(inbox, sender_id="known", external_id="k-2", text="redelivered")),
             (tenant, received(inbox, sender_id="fresh", external_id="f-1", email="fresh@x.io", text="f1")),
             (tenant, received(inbox, sender_id="fresh", external_id="f-2", email="fresh@x.io", text="f2")),
             (tenant, received(inbox2, sender_id="web-3", external_id="w-1", email="FRESH@x.io", text="w1")),
             (other, received(inbox, sender_id="known", external_id="k-2", text="other tenant"))]
    await ticket.bus.publish([to_record("ingest.messages.v1", m, new_meta(m, tenant_id=str(t), source="test",
                                                                           key=f"{m.inbox_id}:{m.thread_id}"))
                              for t, m in batch])
    await ticket.drained()

    # partitions (by inbox and sender) may interleave, so compare by text, not by position
    conversation_of = {m.text: m.conversation_id for m in await stored_messages(ticket, tenant)}
    assert sorted(conversation_of) == sorted(["Hola, ¿dónde está mi pedido?", "again", "f1", "f2", "w1"])
    assert conversation_of["again"] in before                          # the known sender's conversation
    assert conversation_of["f1"] == conversation_of["f2"]              # the new sender: one conversation
    assert conversation_of["w1"] not in (conversation_of["f1"], *before)   # its own, on the second inbox
    contacts = (await get_json(ticket, tenant, "/api/v1/contacts"))["items"]
    assert len(contacts) == 2                                          # known + fresh (web-3 is fresh too)
    [fresh] = [c for c in contacts if c["email"] == "fresh@x.io"]
    assert sorted(i["external_id"] for i in fresh["identities"]) == ["fresh", "web-3"]
    [other_msg] = (await stored_messages(ticket, other))[1:]
    assert other_msg.text == "other tenant" and other_msg.conversation_id in before


async def test_same_email_on_a_second_inbox_is_the_same_contact(ticket):
    await ticket.reset()
    tenant, shop, mail = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(shop, sender_id="web-77", email="lucia@example.com"))
    await receive(ticket, tenant, received(mail, sender_id="LUCIA@example.com", email="", channel="email"))
    opened = [m for _, m in events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)]
    assert len(opened) == 2                                   # one conversation per inbox...
    assert opened[0].contact_id == opened[1].contact_id       # ...of one contact
    contact = await get_json(ticket, tenant, f"/api/v1/contacts/{opened[0].contact_id}")
    assert sorted((i["channel"], i["inbox_id"]) for i in contact["identities"]) == sorted(
        [("api", str(shop)), ("email", str(mail))])
    found = await get_json(ticket, tenant, "/api/v1/contacts", email="Lucia@Example.com")
    assert [c["id"] for c in found["items"]] == [opened[0].contact_id]


async def test_same_phone_on_another_channel_is_the_same_contact(ticket):
    await ticket.reset()
    tenant, wa, web = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(wa, sender_id="+34 600 111 222", channel="whatsapp"))
    await receive(ticket, tenant, received(web, sender_id="visitor-9", phone="+34600111222"))
    opened = [m for _, m in events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)]
    assert len(opened) == 2 and opened[0].contact_id == opened[1].contact_id
    found = await get_json(ticket, tenant, "/api/v1/contacts", phone="+34 600-111-222")
    assert [c["id"] for c in found["items"]] == [opened[0].contact_id]


async def test_different_senders_are_different_contacts(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(inbox, sender_id="a"))
    await receive(ticket, tenant, received(inbox, sender_id="b"))
    opened = [m for _, m in events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)]
    assert len({o.contact_id for o in opened}) == 2


async def test_a_message_after_resolve_opens_a_new_conversation_for_the_same_contact(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    await receive(ticket, tenant, received(inbox))
    [(_, first)] = events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)
    r = await ticket.client.patch(f"/api/v1/conversations/{first.conversation_id}", headers=ticket.headers(tenant),
                                  json={"status": "resolved"})
    assert r.status_code == 200, r.text
    await receive(ticket, tenant, received(inbox, text="otra pregunta"))
    opened = [m for _, m in events(ticket, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)]
    assert len(opened) == 2 and opened[1].conversation_id != first.conversation_id
    assert opened[1].contact_id == first.contact_id
    assert len(events(ticket, TICKETS, tickets_v1.TicketOpened, tenant)) == 2
    # reopening the old one now conflicts with the new open conversation
    r = await ticket.client.patch(f"/api/v1/conversations/{first.conversation_id}", headers=ticket.headers(tenant),
                                  json={"status": "open"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")


async def test_an_invalid_event_is_dead_lettered_with_its_reason(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    bad = received("not-a-uuid")
    await ticket.publish(bad, key="x:cust-1", tenant_id=tenant)
    await ticket.drained()
    [dead] = [r for r in ticket.bus.records("ticket.inbound.dlq")
              if dict(r.headers)["ce_tenant"] == str(tenant).encode()]
    assert b"inbox_id must be a UUID" in dict(dead.headers)["x-dlq-reason"]
    assert events(ticket, MESSAGES, tenant=tenant) == []
