"""Flow steps 4, 6, 7, 9: MessageTranslated, AssignmentDecided, agent reply, DeliveryUpdated."""

import asyncio
import uuid

from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import outbound_v1_pb2 as outbound_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1
from meridian.contracts.translation import messages_v1_pb2 as translation_v1
from meridian.events.envelope import new_meta, to_record

from tests.service.ticket.conftest import (
    AUDIT,
    CONVERSATIONS,
    MESSAGES,
    OUTBOUND,
    TICKETS,
    assign,
    deliver,
    detected,
    events,
    get_json,
    receive,
    received,
    received_event_of,
    stored_messages,
    translate,
)


async def start(svc, tenant, **kwargs):
    """A customer message threaded into a new conversation: (conversation_id, message_id)."""
    await receive(svc, tenant, received(kwargs.pop("inbox", uuid.uuid4()), **kwargs))
    threaded = (await stored_messages(svc, tenant))[-1]
    return threaded.conversation_id, threaded.message_id


def updates(svc, tenant):
    return [m for _, m in events(svc, CONVERSATIONS, conversations_v1.ConversationUpdated, tenant)]


def created(svc, tenant):
    return [m for _, m in events(svc, MESSAGES, messages_v1.MessageCreated, tenant)]


async def test_translation_sets_languages_and_emits_conversation_updated_then_message_created(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    conv_id, msg_id = await start(ticket, tenant, text="Hola")
    await translate(ticket, tenant, msg_id, "es")

    [upd] = updates(ticket, tenant)
    assert (upd.conversation_id, upd.language, list(upd.changed_fields), upd.status, upd.assignee_agent_id) == (
        conv_id, "es", ["language"], "open", "")
    [mc] = created(ticket, tenant)
    assert (mc.message_id, mc.conversation_id, mc.direction, mc.language, mc.status, mc.text) == (
        msg_id, conv_id, messages_v1.DIRECTION_INBOUND, "es", "received", "Hola")
    ordered = [type(m).__name__ for _, m in events(ticket, CONVERSATIONS, tenant=tenant) + events(
        ticket, MESSAGES, tenant=tenant)]
    assert "ConversationUpdated" in ordered and "MessageCreated" in ordered
    assert (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}"))["language"] == "es"
    [m] = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    assert m["language"] == "es"

    await translate(ticket, tenant, msg_id, "es")          # a second detection: not re-emitted
    assert len(created(ticket, tenant)) == 1 and len(updates(ticket, tenant)) == 1


async def test_a_later_message_in_the_same_language_is_created_without_a_conversation_update(ticket):
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    conv_id, first = await start(ticket, tenant, inbox=inbox)
    await translate(ticket, tenant, first, "es")
    agent = uuid.uuid4()
    await assign(ticket, tenant, conv_id, agent)                     # routing already happened
    _, second = await start(ticket, tenant, inbox=inbox, text="¿Y el reembolso?")
    await translate(ticket, tenant, second, "es")
    assert [m.message_id for m in created(ticket, tenant)] == [first, second]   # not lost
    assert [list(u.changed_fields) for u in updates(ticket, tenant)] == [["language"], ["assignee_agent_id"]]
    _, third = await start(ticket, tenant, inbox=inbox, text="Where is it?")
    await translate(ticket, tenant, third, "en")            # the customer switched language
    last = updates(ticket, tenant)[-1]
    assert (list(last.changed_fields), last.language, last.assignee_agent_id) == (["language"], "en", str(agent))
    assert [m.language for m in created(ticket, tenant)] == ["es", "es", "en"]


async def publish_translations(svc, tenant, conversation_id: str, detections: list[tuple[str, str]]) -> None:
    """Several MessageTranslated in one bus publish, so one consumer batch handles them together."""
    records = []
    for message_id, language in detections:
        msg = detected(await received_event_of(svc, message_id), language)
        meta = new_meta(msg, tenant_id=str(tenant), source="test", key=conversation_id)
        records.append(to_record("translation.messages.v1", msg, meta))
    await svc.bus.publish(records)
    await svc.drained()


async def test_one_batch_of_translations_follows_the_newest_message_whatever_the_order(ticket):
    await ticket.reset()
    for order in ("oldest first", "newest first"):
        tenant, inbox = uuid.uuid4(), uuid.uuid4()
        conv_id, first = await start(ticket, tenant, inbox=inbox, text="Bonjour")
        _, second = await start(ticket, tenant, inbox=inbox, text="Guten Tag")
        detections = [(first, "fr"), (second, "de")]
        if order == "newest first":
            detections = detections[::-1]
        detections.append((first, "fr"))                                  # delivered twice
        await publish_translations(ticket, tenant, conv_id, detections)
        assert sorted(m.language for m in created(ticket, tenant)) == ["de", "fr"], order
        assert (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}"))["language"] == "de", order
        assert updates(ticket, tenant)[-1].language == "de", order
        items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
        assert [m["language"] for m in items] == ["fr", "de"], order


async def test_a_language_change_keeps_an_assignment_made_since_the_conversation_was_read(ticket):
    """The translations consumer read the conversation before routing's assignment committed: the
    language change must not write the stale (empty) assignee back."""
    from meridian_ticket.uow import TicketUow

    await ticket.reset()
    tenant = uuid.uuid4()
    conv_id, _ = await start(ticket, tenant)
    async with ticket.kit.uow() as uow:
        assert isinstance(uow, TicketUow)
        stale = await uow.conversations.get(tenant, uuid.UUID(conv_id))
    agent = uuid.uuid4()
    await assign(ticket, tenant, conv_id, agent)
    async with ticket.kit.uow() as uow:
        stored = await uow.set_conversation_language(stale, "pt", stale.updated_at)
        await uow.commit()
    assert (stored.language, stored.assignee_agent_id) == ("pt", agent)
    got = await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}")
    assert (got["language"], got["assignee_agent_id"]) == ("pt", str(agent))


async def test_a_detection_that_comes_first_waits_for_its_message(ticket):
    """Translation detects from MessageReceived while ticket threads it: when the language arrives
    first, the message is stored with it and MessageCreated follows at once (no second pass)."""
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    msg = received(inbox, text="Bonjour, où est ma commande ?")
    meta = new_meta(msg, tenant_id=str(tenant), source="ingest", key=f"{inbox}:{msg.thread_id}")
    await ticket.publish(detected(str(meta.id), "fr"), key=str(meta.id), tenant_id=tenant)
    await ticket.drained()
    assert created(ticket, tenant) == [] and await waiting_languages(ticket) == 1
    await ticket.bus.publish([to_record("ingest.messages.v1", msg, meta)])
    await ticket.drained()
    [mc] = created(ticket, tenant)
    [threaded] = await stored_messages(ticket, tenant)
    assert (mc.message_id, mc.language, mc.text) == (threaded.message_id, "fr", "Bonjour, où est ma commande ?")
    [upd] = updates(ticket, tenant)
    assert (list(upd.changed_fields), upd.language, upd.conversation_id) == (["language"], "fr", mc.conversation_id)
    conversation = await get_json(ticket, tenant, f"/api/v1/conversations/{mc.conversation_id}")
    assert conversation["language"] == "fr"
    [m] = (await get_json(ticket, tenant, f"/api/v1/conversations/{mc.conversation_id}/messages"))["items"]
    assert m["language"] == "fr"
    assert await waiting_languages(ticket) == 0                        # the joined row is gone


async def test_a_message_and_its_detection_in_concurrent_transactions_meet_once(ticket):
    """The two halves committed by two transactions at the same time: the later one waits on the
    row and sees the earlier's half, so exactly one of them completes the message."""
    from meridian_ticket.uow import TicketUow

    await ticket.reset()
    tenant = uuid.uuid4()
    for first in ("message", "language"):
        received_id, message_id = uuid.uuid4(), uuid.uuid4()
        async with ticket.kit.uow() as a, ticket.kit.uow() as b:
            assert isinstance(a, TicketUow) and isinstance(b, TicketUow)
            if first == "message":
                assert await a.inbound_languages.thread([(received_id, tenant, message_id)]) == {received_id: None}
                waiting = asyncio.create_task(b.inbound_languages.detect([(received_id, tenant, "es")]))
            else:
                assert await a.inbound_languages.detect([(received_id, tenant, "es")]) == {received_id: None}
                waiting = asyncio.create_task(b.inbound_languages.thread([(received_id, tenant, message_id)]))
            await asyncio.sleep(0.2)
            assert not waiting.done()                                  # blocked on a's row
            await a.commit()
            met = await waiting
            await b.commit()
        assert met == {received_id: (message_id, False) if first == "message" else "es"}, first
        assert await waiting_languages(ticket) == 0, first


async def test_bad_or_foreign_detections_change_nothing(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    await ticket.publish(translation_v1.MessageTranslated(received_event_id="nope", detected_language="es"),
                         key="k", tenant_id=tenant)
    await ticket.drained()
    [dead] = [r for r in ticket.bus.records("ticket.translations.dlq")
              if dict(r.headers)["ce_tenant"] == str(tenant).encode()]
    assert dict(dead.headers)["x-dlq-reason"].decode().startswith("EventInvalid")
    # another tenant's received event: its message is not given this tenant's language
    other = uuid.uuid4()
    conv_id, msg_id = await start(ticket, other)
    await translate(ticket, tenant, msg_id, "es")
    assert created(ticket, other) == [] and created(ticket, tenant) == []
    await translate(ticket, other, msg_id, "pt")
    assert [m.language for m in created(ticket, other)] == ["pt"]


async def waiting_languages(svc) -> int:
    from meridian_ticket.tables import inbound_languages
    from sqlalchemy import func, select

    async with svc.kit.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(inbound_languages))).scalar_one()


async def test_agent_assignment_sets_the_assignee_and_emits_ticket_assigned(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    conv_id, msg_id = await start(ticket, tenant)
    await translate(ticket, tenant, msg_id, "es")
    await assign(ticket, tenant, conv_id, target=assignments_v1.ASSIGNMENT_TARGET_QUEUE)   # queued: nothing yet
    assert len(updates(ticket, tenant)) == 1
    agent = uuid.uuid4()
    await assign(ticket, tenant, conv_id, agent)
    upd = updates(ticket, tenant)[-1]
    assert (list(upd.changed_fields), upd.assignee_agent_id, upd.language) == (["assignee_agent_id"], str(agent), "es")
    [(meta, ta)] = events(ticket, TICKETS, tickets_v1.TicketAssigned, tenant)
    assert (ta.conversation_id, ta.assignee_agent_id, meta.partition_key) == (conv_id, str(agent), conv_id)
    assert (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}"))["assignee_agent_id"] == str(agent)
    t = await get_json(ticket, tenant, f"/api/v1/tickets/{ta.ticket_id}")
    assert t["assignee_agent_id"] == str(agent)
    await assign(ticket, tenant, conv_id, agent)                     # the same decision again: no new events
    assert len(events(ticket, TICKETS, tickets_v1.TicketAssigned, tenant)) == 1
    actions = [a.action for _, a in events(ticket, AUDIT, tenant=tenant)]
    assert actions.count("conversation.assigned") == 1 and actions.count("ticket.assigned") == 1


async def test_a_batch_of_assignments_reads_each_conversation_as_its_earlier_events_left_it(ticket):
    """The batch's conversations are locked and read in one statement; a second decision for the
    same conversation in the batch must see the first one's assignee, not the batch's first read."""
    await ticket.reset()
    tenant = uuid.uuid4()
    first, _ = await start(ticket, tenant, sender_id="cust-a")
    second, _ = await start(ticket, tenant, sender_id="cust-b")
    agent_a, agent_b = uuid.uuid4(), uuid.uuid4()
    for conversation_id, agent in [(first, agent_a), (second, agent_a), (first, agent_b)]:
        await ticket.publish(assignments_v1.AssignmentDecided(
            conversation_id=conversation_id, target=assignments_v1.ASSIGNMENT_TARGET_AGENT, agent_id=str(agent),
            reason="language:es"), key=conversation_id, tenant_id=tenant)
    await ticket.drained()

    def moves(conversation_id: str) -> list[str]:
        return [u.assignee_agent_id for u in updates(ticket, tenant)
                if u.conversation_id == conversation_id and "assignee_agent_id" in u.changed_fields]

    assert (moves(first), moves(second)) == ([str(agent_a), str(agent_b)], [str(agent_a)])
    previous = [a.details["previous_agent_id"] for _, a in events(ticket, AUDIT, tenant=tenant)
                if a.action == "conversation.assigned" and a.resource_id == first]
    assert previous == ["", str(agent_a)]
    got = await get_json(ticket, tenant, f"/api/v1/conversations/{first}")
    assert got["assignee_agent_id"] == str(agent_b)


async def test_agent_reply_creates_a_pending_outbound_message_and_requests_delivery(ticket):
    await ticket.reset()
    tenant, inbox, agent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    conv_id, msg_id = await start(ticket, tenant, inbox=inbox, sender_id="cust-42")
    await translate(ticket, tenant, msg_id, "es")
    r = await ticket.client.post(f"/api/v1/conversations/{conv_id}/messages",
                                 headers=ticket.headers(tenant, **{"X-Meridian-Actor": str(agent)}),
                                 json={"text": "¡Hola! Sale hoy."})
    assert r.status_code == 201, r.text
    await ticket.drained()
    body = r.json()
    assert (body["direction"], body["status"], body["language"], body["sender_agent_id"], body["conversation_id"],
            body["inbox_id"], body["error"]) == ("outbound", "pending", "es", str(agent), conv_id, str(inbox), None)
    out = created(ticket, tenant)[-1]
    assert (out.message_id, out.direction, out.status, out.sender_agent_id) == (
        body["id"], messages_v1.DIRECTION_OUTBOUND, "pending", str(agent))
    [(meta, req)] = events(ticket, OUTBOUND, outbound_v1.OutboundRequested, tenant)
    assert (req.message_id, req.conversation_id, req.inbox_id, req.channel, req.recipient_id, req.text,
            req.language) == (body["id"], conv_id, str(inbox), "api", "cust-42", "¡Hola! Sale hoy.", "es")
    assert meta.partition_key == conv_id
    [audit] = [a for _, a in events(ticket, AUDIT, tenant=tenant) if a.action == "message.sent"]
    assert (audit.actor_type, audit.actor_id, audit.resource_id) == ("user", str(agent), body["id"])
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    assert [m["direction"] for m in items] == ["inbound", "outbound"]


async def test_reply_without_an_agent_actor_has_no_sender(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    conv_id, _ = await start(ticket, tenant)
    r = await ticket.client.post(f"/api/v1/conversations/{conv_id}/messages",
                                 headers=ticket.headers(tenant, **{"X-Meridian-Actor": "api-key:abc"}),
                                 json={"text": "ok"})
    assert r.status_code == 201 and r.json()["sender_agent_id"] is None and r.json()["language"] is None


async def test_delivery_failed_is_visible_and_later_reports_do_not_move_it_back(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    conv_id, _ = await start(ticket, tenant)
    r = await ticket.client.post(f"/api/v1/conversations/{conv_id}/messages", headers=ticket.headers(tenant),
                                 json={"text": "hola"})
    out_id = r.json()["id"]
    await ticket.drained()
    await deliver(ticket, tenant, out_id, conv_id, deliveries_v1.DELIVERY_STATUS_FAILED, "HTTP 410 gone")
    [(meta, mu)] = events(ticket, MESSAGES, messages_v1.MessageUpdated, tenant)
    assert (mu.message_id, mu.conversation_id, mu.status, mu.error, meta.partition_key) == (
        out_id, conv_id, "failed", "HTTP 410 gone", conv_id)
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    [m] = [i for i in items if i["id"] == out_id]
    assert (m["status"], m["error"]) == ("failed", "HTTP 410 gone")
    await deliver(ticket, tenant, out_id, conv_id, deliveries_v1.DELIVERY_STATUS_DELIVERED)   # never back
    assert len(events(ticket, MESSAGES, messages_v1.MessageUpdated, tenant)) == 1


async def test_delivered_once_even_when_reported_twice(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    conv_id, _ = await start(ticket, tenant)
    out_id = (await ticket.client.post(f"/api/v1/conversations/{conv_id}/messages", headers=ticket.headers(tenant),
                                       json={"text": "hola"})).json()["id"]
    await deliver(ticket, tenant, out_id, conv_id, deliveries_v1.DELIVERY_STATUS_DELIVERED)
    await deliver(ticket, tenant, out_id, conv_id, deliveries_v1.DELIVERY_STATUS_DELIVERED)
    assert [m.status for _, m in events(ticket, MESSAGES, messages_v1.MessageUpdated, tenant)] == ["delivered"]
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    assert [i["status"] for i in items] == ["received", "delivered"]


async def test_delivery_update_for_an_unknown_message_is_dead_lettered(ticket):
    await ticket.reset()
    tenant = uuid.uuid4()
    await deliver(ticket, tenant, str(uuid.uuid4()), str(uuid.uuid4()), deliveries_v1.DELIVERY_STATUS_DELIVERED)
    [dead] = [r for r in ticket.bus.records("ticket.deliveries.dlq")
              if dict(r.headers)["ce_tenant"] == str(tenant).encode()]
    assert dict(dead.headers)["x-dlq-reason"].startswith(b"MessageNotFound")


async def test_unused_translation_fields_are_ignored(ticket):
    """MessageTranslated with a translation attached still only sets the detected language."""
    await ticket.reset()
    tenant = uuid.uuid4()
    conv_id, msg_id = await start(ticket, tenant, text="Hallo")
    msg = translation_v1.MessageTranslated(received_event_id=await received_event_of(ticket, msg_id),
                                           detected_language="de", confidence=0.97, target_language="en",
                                           translated_text="Hello")
    await ticket.publish(msg, key=conv_id, tenant_id=tenant)
    await ticket.drained()
    [mc] = created(ticket, tenant)
    assert (mc.language, mc.text) == ("de", "Hallo")


async def test_a_message_whose_language_never_comes_is_announced_as_undetermined_after_the_wait(ticket):
    """Translation down or its event dead-lettered: agents still see the message, once it has waited
    ``language_wait``; a detection that comes later corrects it (MessageUpdated), and a message whose
    language never comes is forgotten by the join in time."""
    from datetime import timedelta

    from meridian_ticket.language_deadline import LanguageDeadline

    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    conv_id, msg_id = await start(ticket, tenant, inbox=inbox)
    received_id = await received_event_of(ticket, msg_id)
    _, later_id = await start(ticket, tenant, inbox=inbox, text="¿Hola?")   # same conversation
    later_received_id = await received_event_of(ticket, later_id)
    patient = LanguageDeadline(ticket.kit.uow, wait=60, poll_interval=1)
    assert await patient.run_once() == 0 and created(ticket, tenant) == []   # not overdue yet
    await asyncio.sleep(0.05)
    deadline = LanguageDeadline(ticket.kit.uow, wait=0.01, poll_interval=1, retention=timedelta(seconds=0.5))
    assert await deadline.run_once() == 2
    await ticket.drained()
    assert [(mc.message_id, mc.conversation_id, mc.language) for mc in created(ticket, tenant)] == [
        (msg_id, conv_id, "und"), (later_id, conv_id, "und")]                # in the conversation's order
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    assert [m["language"] for m in items] == ["und", "und"]
    assert await deadline.run_once() == 0                                     # announced once
    assert await waiting_languages(ticket) == 2                               # kept for a late detection

    await ticket.publish(detected(received_id, "es"), key=received_id, tenant_id=tenant)   # translation is back
    await ticket.drained()
    assert [c.language for c in created(ticket, tenant)] == ["und", "und"]    # not announced twice
    [mu] = [m for _, m in events(ticket, MESSAGES, messages_v1.MessageUpdated, tenant)]
    assert (mu.message_id, mu.conversation_id, mu.language, mu.status) == (msg_id, conv_id, "es", "received")
    [upd] = updates(ticket, tenant)    # the newer message's "und" does not hide the customer's language
    assert (upd.conversation_id, upd.language, list(upd.changed_fields)) == (conv_id, "es", ["language"])
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    assert [m["language"] for m in items] == ["es", "und"]

    await ticket.publish(detected(later_received_id, "und"), key=later_received_id, tenant_id=tenant)
    await ticket.drained()   # an undetermined detection has nothing to correct
    assert len(events(ticket, MESSAGES, messages_v1.MessageUpdated, tenant)) == 1
    await ticket.publish(detected(received_id, "pt"), key=received_id, tenant_id=tenant)   # redelivered, other id
    await ticket.drained()
    assert len(events(ticket, MESSAGES, messages_v1.MessageUpdated, tenant)) == 1   # corrected once
    items = (await get_json(ticket, tenant, f"/api/v1/conversations/{conv_id}/messages"))["items"]
    assert [m["language"] for m in items] == ["es", "und"]

    await asyncio.sleep(0.6)
    assert await deadline.run_once() == 0
    assert await waiting_languages(ticket) == 0                               # then forgotten


async def test_the_deadline_skips_a_message_whose_language_is_arriving_meanwhile(ticket):
    """A detection being applied in another transaction holds the message's row: the deadline leaves
    that message to it instead of announcing it a second time."""
    from meridian_ticket.language_deadline import LanguageDeadline

    await ticket.reset()
    tenant = uuid.uuid4()
    _, msg_id = await start(ticket, tenant)
    received_id = uuid.UUID(await received_event_of(ticket, msg_id))
    await asyncio.sleep(0.05)
    deadline = LanguageDeadline(ticket.kit.uow, wait=0.01, poll_interval=1)
    async with ticket.kit.uow() as applying:
        assert await applying.inbound_languages.detect([(received_id, tenant, "es")]) == {
            received_id: (uuid.UUID(msg_id), False)}                         # not announced yet
        assert await asyncio.wait_for(deadline.run_once(), 5) == 0           # skipped, not waited for
        await applying.commit()
    assert await deadline.run_once() == 0 and await waiting_languages(ticket) == 0


async def test_messages_and_their_languages_arriving_together_and_crossed_meet_without_deadlocks(ticket, monkeypatch):
    """Many messages and their languages published at once, the languages in the opposite order and
    each round switching the conversations' language: every message is announced once, in its
    language, and no transaction of ticket ever hit a deadlock. (Two transactions pairing halves in
    opposite orders deadlocked; PostgreSQL breaks a deadlock only after ``deadlock_timeout``, 1 s,
    which the platform's agents saw as a 1.1–1.4 s stall.)"""
    from meridian.bus.consumer import EventConsumer, is_transient_conflict

    conflicts: list[BaseException] = []
    run = EventConsumer._run

    async def recording(self, events):
        try:
            return await run(self, events)
        except Exception as exc:
            if is_transient_conflict(exc):
                conflicts.append(exc)
            raise

    monkeypatch.setattr(EventConsumer, "_run", recording)
    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    senders, rounds = 100, 12
    for n in range(rounds):
        language = ("es", "de")[n % 2]
        messages, languages = [], []
        for i in range(senders):
            msg = received(inbox, sender_id=f"cust-{i}", text=f"round {n}")
            meta = new_meta(msg, tenant_id=str(tenant), source="test", key=f"{inbox}:cust-{i}")
            messages.append(to_record("ingest.messages.v1", msg, meta))
            found = detected(str(meta.id), language)
            languages.append(to_record("translation.messages.v1", found, new_meta(
                found, tenant_id=str(tenant), source="test", key=f"{inbox}:cust-{i}")))
        # the languages a little after their messages, in the opposite order: each round a different
        # delay, so that in some the two pairing statements run at the same time
        await ticket.bus.publish(messages)
        await asyncio.sleep(0.001 * (n % 6))
        await ticket.bus.publish(languages[::-1])
        await ticket.drained(timeout=60)
    await ticket.drained(timeout=60)

    announced = created(ticket, tenant)
    assert len(announced) == senders * rounds
    assert {(m.text, m.language) for m in announced} == {(f"round {n}", ("es", "de")[n % 2]) for n in range(rounds)}
    assert conflicts == []


async def test_two_transactions_pairing_many_halves_in_opposite_orders_do_not_deadlock(ticket):
    """Each pairing statement takes its rows in received-event order, whatever order its batch came
    in: two of them running at once over the same events, one given them reversed, wait for each
    other at most (the later one for the earlier's commit); neither is broken as a deadlock."""
    from meridian_ticket.uow import TicketUow

    await ticket.reset()
    tenant = uuid.uuid4()
    received_ids = [uuid.uuid4() for _ in range(3000)]
    async with ticket.kit.uow() as a, ticket.kit.uow() as b:
        assert isinstance(a, TicketUow) and isinstance(b, TicketUow)

        async def messages_then_commit():
            await a.inbound_languages.thread([(r, tenant, uuid.uuid4()) for r in received_ids])
            await a.commit()

        async def languages_then_commit():
            await b.inbound_languages.detect([(r, tenant, "es") for r in reversed(received_ids)])
            await b.commit()

        await asyncio.gather(messages_then_commit(), languages_then_commit())
    assert await waiting_languages(ticket) == 0                       # every pair met, once


async def test_an_inbound_batch_and_a_translations_batch_changing_the_same_conversations_do_not_deadlock(ticket):
    """ticket.inbound's batch changes conversation 1, then 2 (its messages' languages came first);
    meanwhile ticket.translations' batch changes 2, then 1 (older messages' languages, late). Each
    locks all its conversations, in id order, before it writes any: the later batch waits for the
    earlier one's commit instead of both waiting for each other until PostgreSQL breaks a deadlock."""
    from meridian_ticket import handlers

    await ticket.reset()
    tenant, inbox = uuid.uuid4(), uuid.uuid4()
    late = [await receive(ticket, tenant, received(inbox, sender_id=f"cust-{i}")) for i in (1, 2)]
    new = []
    for i in (1, 2):   # newer messages, whose languages translation detected first
        msg = received(inbox, sender_id=f"cust-{i}")
        new.append((msg, new_meta(msg, tenant_id=str(tenant), source="test", key=f"{inbox}:cust-{i}")))
        await ticket.publish(detected(str(new[-1][1].id), "de"), key=f"{inbox}:cust-{i}", tenant_id=tenant)
    await ticket.drained()
    languages = [(found, new_meta(found, tenant_id=str(tenant), source="test", key=str(meta.id)))
                 for found, meta in ((detected(str(meta.id), "fr"), meta) for meta in late[::-1])]

    async def handle(uow, events, pause):
        for message, meta in events:
            uow.cause = meta
            if isinstance(message, translation_v1.MessageTranslated):
                await handlers.on_message_translated(message, meta, uow)
            else:
                await handlers.on_message_received(message, meta, uow)
            await asyncio.sleep(pause)
        uow.cause = None
        await uow.commit()

    async def inbound():
        async with ticket.kit.uow() as uow:
            await handlers.prepare_inbound(new, uow)
            await handle(uow, new, 0.15)

    async def translations():
        await asyncio.sleep(0.05)
        async with ticket.kit.uow() as uow:
            await handlers.prepare_translations(languages, uow)
            await handle(uow, languages, 0.15)

    await asyncio.wait_for(asyncio.gather(inbound(), translations()), 30)
    await ticket.drained()
    conversations = (await get_json(ticket, tenant, "/api/v1/conversations"))["items"]
    assert sorted(c["language"] for c in conversations) == ["de", "de"]     # the newest messages' language
    assert sorted(m.language for m in created(ticket, tenant)) == ["de", "de", "fr", "fr"]
