import asyncio
import json
import uuid

from meridian_ingest.tables import inbound_messages
from sqlalchemy import func, select

from tests.fakes.callback_server import sign
from tests.service.ingest.conftest import make_inbox, post_webhook, webhook_body

TOPIC = "ingest.messages.v1"


def problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


async def test_a_signed_webhook_is_accepted_and_becomes_message_received(ingest):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant)
    body = webhook_body("ext-1", sender={"id": "cust-9", "name": "Lucía", "email": "l@x.io", "phone": "+34 600"},
                        text="¿Dónde está mi pedido?", timestamp="2025-03-01T10:00:00Z")
    r = await post_webhook(ingest, inbox, body)
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "accepted", "id": "ext-1"}
    await ingest.drained()
    [(meta, msg)] = ingest.events(TOPIC)
    assert meta.tenant_id == str(tenant)
    assert meta.partition_key == f"{inbox['id']}:cust-9"
    assert (msg.inbox_id, msg.channel, msg.external_id, msg.thread_id) == (inbox["id"], "api", "ext-1", "cust-9")
    assert (msg.sender.id, msg.sender.name, msg.sender.email, msg.sender.phone) == ("cust-9", "Lucía", "l@x.io",
                                                                                      "+34 600")
    assert msg.text == "¿Dónde está mi pedido?"
    assert msg.sent_at.ToJsonString() == "2025-03-01T10:00:00Z"
    assert msg.received_at.seconds > 0


async def test_the_same_webhook_twice_emits_one_message(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    body = webhook_body("ext-dup")
    first = await post_webhook(ingest, inbox, body)
    second = await post_webhook(ingest, inbox, body)
    assert first.json()["status"] == "accepted"
    assert second.status_code == 202 and second.json() == {"status": "duplicate", "id": "ext-dup"}
    await ingest.drained()
    assert len(ingest.events(TOPIC)) == 1


async def test_the_same_external_id_on_another_inbox_is_another_message(ingest):
    await ingest.reset()
    tenant = uuid.uuid4()
    a, b = await make_inbox(ingest, tenant), await make_inbox(ingest, tenant)
    body = webhook_body("ext-same")
    assert (await post_webhook(ingest, a, body)).json()["status"] == "accepted"
    assert (await post_webhook(ingest, b, body)).json()["status"] == "accepted"
    await ingest.drained()
    assert len(ingest.events(TOPIC)) == 2


async def test_concurrent_webhooks_are_group_committed_without_loss_or_double(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    bodies = [webhook_body(f"ext-{i}", sender={"id": f"cust-{i % 7}"}) for i in range(300)]
    bodies += bodies[:50]   # redelivered concurrently with the originals
    responses = await asyncio.gather(*(post_webhook(ingest, inbox, b) for b in bodies))
    assert all(r.status_code == 202 for r in responses)
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("accepted") == 300 and statuses.count("duplicate") == 50
    await ingest.drained()
    assert sorted(m.external_id for _, m in ingest.events(TOPIC)) == sorted(f"ext-{i}" for i in range(300))
    async with ingest.kit.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(inbound_messages)) == 300


async def test_one_group_commit_stores_events_of_its_new_keys_only_in_order(ingest):
    """The group commit's one statement: dedupe rows, and outbox rows only for the keys that were
    new (not for one stored before, not twice for one repeated in the batch), in the batch's order."""
    from meridian_ingest.batcher import Acceptance, accept_messages
    from meridian_ingest.domain.model import InboundMessage, InboxCredentials, Sender
    from meridian_ingest.tables import outbox

    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant)
    assert (await post_webhook(ingest, inbox, webhook_body("old"))).json()["status"] == "accepted"
    await ingest.drained()
    credentials = InboxCredentials(id=uuid.UUID(inbox["id"]), tenant_id=tenant, channel="api", settings={}, secret="")
    loop = asyncio.get_running_loop()
    batch = [Acceptance(credentials, InboundMessage(external_id=ext, thread_id="c", sender=Sender(id="c"), text=ext),
                        loop.create_future()) for ext in ("n1", "old", "n2", "n1", "n3")]
    assert await accept_messages(ingest.kit.uow(), batch) == [True, False, True, False, True]
    await ingest.drained()
    assert [m.external_id for _, m in ingest.events(TOPIC)] == ["old", "n1", "n2", "n3"]
    async with ingest.kit.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(outbox).where(outbox.c.topic == TOPIC)) == 4
        assert await conn.scalar(select(func.count()).select_from(inbound_messages)) == 4


async def test_each_group_committed_message_continues_its_own_requests_trace(ingest):
    from meridian import telemetry

    telemetry.setup("test")  # what every platform process does at start (idempotent)
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    traces = {f"ext-t{i}": uuid.uuid4().hex for i in range(20)}
    responses = await asyncio.gather(*(
        post_webhook(ingest, inbox, webhook_body(ext), headers={"traceparent": f"00-{trace}-{'1' * 16}-01"})
        for ext, trace in traces.items()))
    assert all(r.status_code == 202 for r in responses)
    await ingest.drained()
    got = {m.external_id: meta.traceparent.split("-")[1] for meta, m in ingest.events(TOPIC)}
    assert got == traces


async def test_unknown_inbox_is_404(ingest):
    await ingest.reset()
    body = webhook_body()
    for inbox_id in (str(uuid.uuid4()), "not-a-uuid"):
        r = await ingest.client.post(f"/webhooks/api/{inbox_id}", content=body,
                                     headers={"X-Meridian-Signature": sign("x", body)})
        problem(r, 404)
    inbox = await make_inbox(ingest, uuid.uuid4())
    r = await ingest.client.post(f"/webhooks/whatsapp/{inbox['id']}", content=body,
                                 headers={"X-Meridian-Signature": sign(inbox["secret"], body)})
    problem(r, 404)


async def test_missing_or_wrong_signature_is_401(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    body = webhook_body()
    r = await ingest.client.post(f"/webhooks/api/{inbox['id']}", content=body)
    problem(r, 401)
    problem(await post_webhook(ingest, inbox, body, secret="wrong-secret"), 401)
    problem(await post_webhook(ingest, inbox, body, headers={"X-Meridian-Signature": "sha256=deadbeef"}), 401)
    # signed body ≠ sent body (the signature covers the raw bytes)
    r = await ingest.client.post(f"/webhooks/api/{inbox['id']}", content=body + b" ",
                                 headers={"X-Meridian-Signature": sign(inbox["secret"], body)})
    problem(r, 401)
    # a bad body with a bad signature is 401, not 400: nothing is parsed before authentication
    problem(await post_webhook(ingest, inbox, b"{not json", secret="wrong"), 401)
    await ingest.drained()
    assert ingest.events(TOPIC) == []


async def test_invalid_utf8_is_400(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    body = b'{"id": "e1", "sender": {"id": "c"}, "text": "caf\xe9"}'
    assert problem(await post_webhook(ingest, inbox, body), 400)["type"].endswith("invalid-encoding")


async def test_malformed_json_is_400(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    for body in (b'{"id": "e1", ', b"", b"nope", b'{"id": "e1"}}'):
        assert problem(await post_webhook(ingest, inbox, body), 400)["type"].endswith("malformed-json")


async def test_missing_or_ill_typed_fields_are_400_with_field_errors(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    body = json.dumps({"id": "", "sender": {"name": "no id"}, "text": 42, "timestamp": "yesterday"}).encode()
    p = problem(await post_webhook(ingest, inbox, body), 400)
    assert {e["field"] for e in p["errors"]} == {"id", "sender.id", "text", "timestamp"}
    p = problem(await post_webhook(ingest, inbox, b"[1, 2]"), 400)
    assert p["errors"][0]["field"] == "body"
    p = problem(await post_webhook(ingest, inbox, json.dumps({"id": "e\u0000", "sender": {"id": "c"},
                                                              "text": "t"}).encode()), 400)
    assert p["errors"][0]["field"] == "id"
    await ingest.drained()
    assert ingest.events(TOPIC) == []


async def test_oversized_body_is_413_by_content_length_and_by_counting(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    limit = ingest.parts.app.state.ingest.settings.max_body_bytes
    big = webhook_body(text="x" * limit)
    assert len(big) > limit
    problem(await post_webhook(ingest, inbox, big), 413)

    async def chunks():   # no Content-Length: counted while streaming
        for i in range(0, len(big), 64 * 1024):
            yield big[i:i + 64 * 1024]

    r = await ingest.client.post(f"/webhooks/api/{inbox['id']}", content=chunks(),
                                 headers={"X-Meridian-Signature": sign(inbox["secret"], big)})
    problem(r, 413)
    # a lying Content-Length can't sneak a big body through either
    r = await ingest.client.post(f"/webhooks/api/{inbox['id']}", content=big,
                                 headers={"X-Meridian-Signature": sign(inbox["secret"], big), "Content-Length": "10"})
    assert r.status_code in (400, 413)
    # oversized is checked before the inbox: unknown inbox + big body → 413
    r = await ingest.client.post(f"/webhooks/api/{uuid.uuid4()}", content=big)
    problem(r, 413)
    # just under the limit is fine
    ok = webhook_body(text="y" * (limit - 200))
    assert len(ok) <= limit
    assert (await post_webhook(ingest, inbox, ok)).status_code == 202


async def test_a_storage_failure_is_503_and_nothing_is_emitted(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    batcher = ingest.parts.app.state.ingest.batcher
    real = batcher._uow_factory

    def down():
        raise ConnectionError("database down")

    batcher._uow_factory = down
    try:
        problem(await post_webhook(ingest, inbox, webhook_body("ext-503")), 503)
    finally:
        batcher._uow_factory = real
    await ingest.drained()
    assert ingest.events(TOPIC) == []
    # the client's retry is accepted once the database is back: nothing was lost
    assert (await post_webhook(ingest, inbox, webhook_body("ext-503"))).json()["status"] == "accepted"


async def test_the_webhook_is_described_in_the_openapi_document(ingest):
    doc = (await ingest.client.get("/openapi.json")).json()
    operation = doc["paths"]["/webhooks/{channel}/{inbox_id}"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"channel", "inbox_id", "X-Meridian-Signature"}
    assert set(operation["responses"]) == {"202", "400", "401", "404", "413"}
    assert operation["security"] == []
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert (await ingest.client.get("/openapi.json")).json() == doc   # the same document every time
