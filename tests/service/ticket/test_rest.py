"""Public REST API: lists, filters, cursors, PATCH, replies; bad input and tenant isolation."""

import uuid

from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import outbound_v1_pb2 as outbound_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1

from tests.service.ticket.conftest import (
    AUDIT,
    CONVERSATIONS,
    OUTBOUND,
    TICKETS,
    assign,
    events,
    get_json,
    receive,
    received,
    stored_messages,
)

PROBLEM = "application/problem+json"


async def conversation(svc, tenant, inbox=None, sender_id=None, **kwargs) -> dict:
    await receive(svc, tenant, received(inbox or uuid.uuid4(), sender_id=sender_id or f"s-{uuid.uuid4()}", **kwargs))
    opened = events(svc, CONVERSATIONS, conversations_v1.ConversationOpened, tenant)[-1][1]
    return await get_json(svc, tenant, f"/api/v1/conversations/{opened.conversation_id}")


async def walk(svc, tenant, path, limit, **params) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        body = await get_json(svc, tenant, path, **query)
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_conversations_newest_first_with_a_cursor_across_pages(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    made = [await conversation(ticket, tenant) for _ in range(5)]
    pages = await walk(ticket, tenant, "/api/v1/conversations", 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [c["id"] for p in pages for c in p] == [c["id"] for c in reversed(made)]
    other = await get_json(ticket, uuid.uuid4(), "/api/v1/conversations")
    assert other == {"items": [], "next_cursor": None}


async def test_conversation_filters(ticket):
    await ticket.reset()
    tenant, inbox_a, inbox_b, agent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a1 = await conversation(ticket, tenant, inbox_a)
    a2 = await conversation(ticket, tenant, inbox_a)
    b1 = await conversation(ticket, tenant, inbox_b)
    await assign(ticket, tenant, a2["id"], agent)
    r = await ticket.client.patch(f"/api/v1/conversations/{b1['id']}", headers=ticket.headers(tenant),
                                  json={"status": "resolved"})
    assert r.status_code == 200

    async def ids(**params):
        return [c["id"] for c in (await get_json(ticket, tenant, "/api/v1/conversations", **params))["items"]]

    assert await ids(inbox_id=str(inbox_a)) == [a2["id"], a1["id"]]
    assert await ids(status="open") == [a2["id"], a1["id"]]
    assert await ids(status="resolved") == [b1["id"]]
    assert await ids(assignee_agent_id=str(agent)) == [a2["id"]]
    assert await ids(contact_id=b1["contact_id"]) == [b1["id"]]
    assert await ids(inbox_id=str(inbox_a), status="resolved") == []
    for bad in ({"status": "bogus"}, {"inbox_id": "nope"}, {"limit": 0}, {"limit": 201}, {"cursor": "!!"}):
        r = await ticket.client.get("/api/v1/conversations", headers=ticket.headers(tenant), params=bad)
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), bad


async def test_messages_are_chronological_with_a_cursor(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    for i in range(4):
        await receive(ticket, tenant, received(inbox, sender_id="same", text=f"m{i}"))
    conv_id = (await stored_messages(ticket, tenant))[0].conversation_id
    r = await ticket.client.post(f"/api/v1/conversations/{conv_id}/messages", headers=ticket.headers(tenant),
                                 json={"text": "reply"})
    assert r.status_code == 201
    pages = await walk(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages", 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [m["text"] for p in pages for m in p] == ["m0", "m1", "m2", "m3", "reply"]


async def test_another_tenants_ids_are_404(ticket):
    await ticket.reset()
    tenant, intruder = uuid.uuid4(), uuid.uuid4()
    conv = await conversation(ticket, tenant)
    ticket_id = events(ticket, TICKETS, tickets_v1.TicketOpened, tenant)[-1][1].ticket_id
    h = ticket.headers(intruder)
    for path in (f"/api/v1/conversations/{conv['id']}", f"/api/v1/conversations/{conv['id']}/messages",
                 f"/api/v1/contacts/{conv['contact_id']}", f"/api/v1/tickets/{ticket_id}"):
        r = await ticket.client.get(path, headers=h)
        assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM), path
    r = await ticket.client.patch(f"/api/v1/conversations/{conv['id']}", headers=h, json={"status": "closed"})
    assert r.status_code == 404
    r = await ticket.client.post(f"/api/v1/conversations/{conv['id']}/messages", headers=h, json={"text": "x"})
    assert r.status_code == 404
    await ticket.drained()
    assert events(ticket, OUTBOUND, tenant=intruder) == [] and events(ticket, CONVERSATIONS, tenant=intruder) == []
    assert (await get_json(ticket, tenant, f"/api/v1/conversations/{conv['id']}"))["status"] == "open"
    assert (await ticket.client.get(f"/api/v1/conversations/{uuid.uuid4()}", headers=ticket.headers(tenant))
            ).status_code == 404
    assert (await ticket.client.get("/api/v1/conversations")).status_code == 401    # no tenant header


async def test_bad_reply_bodies_are_400(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    conv = await conversation(ticket, tenant)
    url = f"/api/v1/conversations/{conv['id']}/messages"
    h = ticket.headers(tenant)
    for body in ({"text": ""}, {"text": "   "}, {}, {"text": 5}, {"text": "x" * 10_001}):
        r = await ticket.client.post(url, headers=h, json=body)
        assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM), body
    r = await ticket.client.post(url, headers={**h, "Content-Type": "application/json"}, content=b'{"text": ')
    assert r.status_code == 400 and r.json()["title"] == "Malformed JSON"
    r = await ticket.client.patch(f"/api/v1/conversations/{conv['id']}", headers={**h, "Content-Type":
                                  "application/json"}, content=b"{nope")
    assert r.status_code == 400
    r = await ticket.client.patch(f"/api/v1/conversations/{conv['id']}", headers=h, json={"status": "snoozed"})
    assert r.status_code == 400
    assert (await ticket.client.post(url, headers=h, json={"text": "x" * 10_000})).status_code == 201
    await ticket.drained()
    assert len(events(ticket, OUTBOUND, outbound_v1.OutboundRequested, tenant)) == 1


async def test_resolve_and_close_a_conversation(ticket):
    await ticket.reset()
    tenant, agent = uuid.uuid4(), uuid.uuid4()
    conv = await conversation(ticket, tenant)
    await assign(ticket, tenant, conv["id"], agent)
    h = ticket.headers(tenant, **{"X-Meridian-Actor": str(agent)})
    r = await ticket.client.patch(f"/api/v1/conversations/{conv['id']}", headers=h, json={"status": "resolved"})
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    await ticket.drained()
    upd = events(ticket, CONVERSATIONS, conversations_v1.ConversationUpdated, tenant)[-1][1]
    assert (list(upd.changed_fields), upd.status, upd.assignee_agent_id) == (["status"], "resolved", str(agent))
    [t] = (await get_json(ticket, tenant, "/api/v1/tickets", status="solved"))["items"]
    assert t["conversation_id"] == conv["id"] and t["assignee_agent_id"] == str(agent)
    r = await ticket.client.patch(f"/api/v1/conversations/{conv['id']}", headers=h, json={"status": "resolved"})
    assert r.status_code == 200                      # unchanged: no event
    r = await ticket.client.patch(f"/api/v1/conversations/{conv['id']}", headers=h, json={"status": "closed"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    await ticket.drained()
    assert [list(u.changed_fields) for _, u in events(ticket, CONVERSATIONS, conversations_v1.ConversationUpdated,
                                                      tenant)] == [["assignee_agent_id"], ["status"], ["status"]]
    changes = [a for _, a in events(ticket, AUDIT, tenant=tenant) if a.action == "conversation.status_changed"]
    assert [(a.details["from"], a.details["to"], a.actor_id) for a in changes] == [
        ("open", "resolved", str(agent)), ("resolved", "closed", str(agent))]
    # closed is final: no reply, no reopen, no manual assignment
    r = await ticket.client.post(f"/api/v1/conversations/{conv['id']}/messages", headers=h, json={"text": "hola"})
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["type"].endswith("conversation-closed")
    for body in ({"status": "open"}, {"assignee_agent_id": str(uuid.uuid4())}):
        r = await ticket.client.patch(f"/api/v1/conversations/{conv['id']}", headers=h, json=body)
        assert r.status_code == 409, body
    await ticket.drained()
    assert events(ticket, OUTBOUND, tenant=tenant) == []
    assert (await get_json(ticket, tenant, "/api/v1/tickets", status="closed"))["items"][0]["id"] == t["id"]


async def test_manual_assignment_and_unassignment(ticket):
    await ticket.reset()
    tenant, agent = uuid.uuid4(), uuid.uuid4()
    conv = await conversation(ticket, tenant)
    url = f"/api/v1/conversations/{conv['id']}"
    r = await ticket.client.patch(url, headers=ticket.headers(tenant), json={"assignee_agent_id": str(agent)})
    assert r.status_code == 200 and r.json()["assignee_agent_id"] == str(agent)
    await ticket.drained()
    [ta] = [m for _, m in events(ticket, TICKETS, tickets_v1.TicketAssigned, tenant)]
    assert ta.assignee_agent_id == str(agent)
    [t] = (await get_json(ticket, tenant, "/api/v1/tickets", assignee_agent_id=str(agent)))["items"]
    assert t["id"] == ta.ticket_id
    r = await ticket.client.patch(url, headers=ticket.headers(tenant), json={"assignee_agent_id": None})
    assert r.status_code == 200 and r.json()["assignee_agent_id"] is None
    await ticket.drained()
    last = events(ticket, CONVERSATIONS, conversations_v1.ConversationUpdated, tenant)[-1][1]
    assert (list(last.changed_fields), last.assignee_agent_id) == (["assignee_agent_id"], "")
    assert len(events(ticket, TICKETS, tickets_v1.TicketAssigned, tenant)) == 1
    assert (await get_json(ticket, tenant, "/api/v1/tickets", assignee_agent_id=str(agent)))["items"] == []
    r = await ticket.client.patch(url, headers=ticket.headers(tenant), json={"assignee_agent_id": "nope"})
    assert r.status_code == 400


async def test_tickets_and_contacts_lists(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    for i in range(3):
        await conversation(ticket, tenant, email=f"c{i}@shop.example")
    pages = await walk(ticket, tenant, "/api/v1/tickets", 2)
    assert [len(p) for p in pages] == [2, 1] and all(t["status"] == "open" for p in pages for t in p)
    assert (await get_json(ticket, tenant, "/api/v1/tickets", status="solved"))["items"] == []
    contacts = await walk(ticket, tenant, "/api/v1/contacts", 2)
    assert sorted(c["email"] for p in contacts for c in p) == ["c0@shop.example", "c1@shop.example",
                                                               "c2@shop.example"]
    assert [c["email"] for c in (await get_json(ticket, tenant, "/api/v1/contacts", email="C1@shop.example"))[
        "items"]] == ["c1@shop.example"]
    assert (await get_json(ticket, tenant, "/api/v1/contacts", email="nobody"))["items"] == []
    assert (await get_json(ticket, uuid.uuid4(), "/api/v1/contacts"))["items"] == []
    r = await ticket.client.get("/api/v1/tickets", headers=ticket.headers(tenant), params={"status": "bogus"})
    assert r.status_code == 400
