import asyncio
import json
import uuid

from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.ticket import outbound_v1_pb2 as outbound_v1

from tests.service.ingest.conftest import MAX_ATTEMPTS, make_inbox

UPDATES = "ingest.deliveries.v1"
DLQ = "ingest.outbound.dlq"


def outbound(inbox: dict, **overrides) -> outbound_v1.OutboundRequested:
    fields = {"message_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4()), "inbox_id": inbox["id"],
              "channel": "api", "recipient_id": "cust-42", "text": "¡Hola Lucía! Sale hoy.", "language": "es"}
    fields.update(overrides)
    return outbound_v1.OutboundRequested(**fields)


async def request(svc, tenant, msg):
    return await svc.publish(msg, key=msg.conversation_id, tenant_id=tenant)


async def final_update(svc, message_id: str,
                       timeout: float = 10.0) -> deliveries_v1.DeliveryUpdated:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await svc.drained()
        found = [m for _, m in svc.events(UPDATES) if m.message_id == message_id]
        if found:
            assert len(found) == 1
            return found[0]
        assert loop.time() < deadline, "no DeliveryUpdated in time"
        await asyncio.sleep(0.02)


async def deliveries(svc, tenant, message_id):
    r = await svc.client.get("/api/v1/deliveries", headers=svc.headers(tenant), params={"message_id": message_id})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_outbound_is_posted_signed_and_reported_delivered(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, callback.url)
    callback.secret = inbox["secret"]
    msg = outbound(inbox)
    await request(ingest, tenant, msg)
    update = await final_update(ingest, msg.message_id)
    assert update.status == deliveries_v1.DELIVERY_STATUS_DELIVERED
    assert (update.attempts, update.error, update.conversation_id, update.inbox_id) == (
        1, "", msg.conversation_id, inbox["id"])
    [(meta, _)] = [e for e in ingest.events(UPDATES) if e[1].message_id == msg.message_id]
    assert meta.partition_key == msg.conversation_id and meta.tenant_id == str(tenant)
    [req] = callback.requests
    assert req.signature_valid
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {"id": msg.message_id, "conversation_id": msg.conversation_id,
                          "recipient": {"id": "cust-42"}, "text": "¡Hola Lucía! Sale hoy.", "language": "es"}
    [row] = await deliveries(ingest, tenant, msg.message_id)
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["delivered_at"]
    assert await deliveries(ingest, uuid.uuid4(), msg.message_id) == []   # another tenant sees nothing


async def test_a_5xx_is_retried_then_delivered(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, callback.url)
    callback.secret = inbox["secret"]
    callback.program(500, 503)
    msg = outbound(inbox)
    await request(ingest, tenant, msg)
    update = await final_update(ingest, msg.message_id)
    assert update.status == deliveries_v1.DELIVERY_STATUS_DELIVERED and update.attempts == 3
    assert [r.status for r in callback.requests] == [500, 503, 200]
    assert all(r.signature_valid for r in callback.requests)
    assert len({r.body for r in callback.requests}) == 1          # the same signed body each time
    assert ingest.events(DLQ) == []


async def test_always_5xx_fails_after_max_attempts_with_a_dead_letter(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, callback.url)
    callback.default = 500
    msg = outbound(inbox)
    await request(ingest, tenant, msg)
    update = await final_update(ingest, msg.message_id)
    assert update.status == deliveries_v1.DELIVERY_STATUS_FAILED
    assert update.attempts == MAX_ATTEMPTS and "500" in update.error
    assert len(callback.requests) == MAX_ATTEMPTS
    [(meta, dead)] = ingest.events(DLQ)
    assert dead == msg
    headers = dict((k, v.decode()) for k, v in ingest.bus.records(DLQ)[0].headers)
    assert "500" in headers["x-dlq-reason"] and headers["x-dlq-attempts"] == str(MAX_ATTEMPTS)
    assert headers["x-original-topic"] == "ticket.outbound.v1"
    [row] = await deliveries(ingest, tenant, msg.message_id)
    assert row["status"] == "failed" and row["attempts"] == MAX_ATTEMPTS and "500" in row["error"]
    audits = [a for _, a in ingest.events("ingest.audit.v1") if a.action == "delivery.failed"]
    assert len(audits) == 1 and audits[0].details["message_id"] == msg.message_id


async def test_timeouts_are_retried_then_failed(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, callback.url)
    callback.program("hang", times=MAX_ATTEMPTS)
    msg = outbound(inbox)
    await request(ingest, tenant, msg)
    update = await final_update(ingest, msg.message_id, timeout=20)
    assert update.status == deliveries_v1.DELIVERY_STATUS_FAILED and update.attempts == MAX_ATTEMPTS
    assert "timed out" in update.error
    assert len(ingest.events(DLQ)) == 1


async def test_unreachable_callback_is_retried_then_failed(ingest):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, "http://127.0.0.1:9/closed")
    msg = outbound(inbox)
    await request(ingest, tenant, msg)
    update = await final_update(ingest, msg.message_id)
    assert update.status == deliveries_v1.DELIVERY_STATUS_FAILED and update.attempts == MAX_ATTEMPTS
    assert "unreachable" in update.error


async def test_a_4xx_fails_at_once_but_429_is_retried(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, callback.url)
    callback.program(400)
    msg = outbound(inbox)
    await request(ingest, tenant, msg)
    update = await final_update(ingest, msg.message_id)
    assert update.status == deliveries_v1.DELIVERY_STATUS_FAILED and update.attempts == 1 and "400" in update.error
    assert len(callback.requests) == 1
    assert len(ingest.events(DLQ)) == 1

    callback.program(429, 408)
    retried = outbound(inbox)
    await request(ingest, tenant, retried)
    update = await final_update(ingest, retried.message_id)
    assert update.status == deliveries_v1.DELIVERY_STATUS_DELIVERED and update.attempts == 3


async def test_the_same_outbound_request_twice_is_one_delivery(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, callback.url)
    msg = outbound(inbox)
    meta = await request(ingest, tenant, msg)
    await request(ingest, tenant, msg)                       # same request, new event id (e.g. ticket retried)
    from meridian.events.envelope import to_record
    await ingest.bus.publish([to_record("ticket.outbound.v1", msg, meta)])   # the very same event redelivered
    await final_update(ingest, msg.message_id)
    await ingest.drained()
    assert len(await deliveries(ingest, tenant, msg.message_id)) == 1
    assert len([r for r in callback.requests if r.json()["id"] == msg.message_id]) == 1


async def test_an_unknown_or_foreign_inbox_fails_the_delivery(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    foreign = await make_inbox(ingest, uuid.uuid4(), callback.url)
    msg = outbound(foreign)                                   # inbox of another tenant
    await request(ingest, tenant, msg)
    update = await final_update(ingest, msg.message_id)
    assert update.status == deliveries_v1.DELIVERY_STATUS_FAILED and update.error == "inbox not found"
    assert callback.requests == []


async def test_an_invalid_outbound_request_is_dead_lettered_by_the_consumer(ingest):
    await ingest.reset()
    msg = outbound({"id": "not-a-uuid"})
    await request(ingest, uuid.uuid4(), msg)
    await ingest.drained()
    [record] = ingest.bus.records("ingest.outbound.dlq")
    assert b"inbox_id" in dict(record.headers)["x-dlq-reason"] or b"invalid" in dict(record.headers)["x-dlq-reason"]


async def test_many_outbound_requests_are_all_delivered(ingest, callback):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant, callback.url)
    msgs = [outbound(inbox) for _ in range(60)]
    for m in msgs:
        await request(ingest, tenant, m)
    await callback.wait_for(60)
    for m in msgs:
        assert (await final_update(ingest, m.message_id)).status == deliveries_v1.DELIVERY_STATUS_DELIVERED
    assert sorted(json.loads(r.body)["id"] for r in callback.requests) == sorted(m.message_id for m in msgs)
