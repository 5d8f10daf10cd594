import uuid

import pytest
from meridian.events.envelope import new_meta, to_record
from meridian_translation.tables import detections
from sqlalchemy import func, select

from tests.service.translation.conftest import publish_threaded, threaded, translated

CASES = [
    ("Hola, ¿dónde está mi pedido? Lo compré hace dos semanas.", "es"),
    ("Guten Tag, wo ist meine Bestellung? Ich warte schon seit einer Woche.", "de"),
    ("注文した商品がまだ届いていません。確認してください。", "ja"),
    ("你好，我的订单什么时候发货？", "zh"),
]


@pytest.mark.parametrize(("text", "language"), CASES)
async def test_inbound_message_language_is_detected(translation, text, language):
    await translation.reset()
    tenant = uuid.uuid4()
    event = await publish_threaded(translation, tenant, text)
    await translation.drained()
    [(meta, out)] = translated(translation).values()
    assert out.message_id == event.message_id and out.conversation_id == event.conversation_id
    assert out.detected_language == language and 0.5 <= out.confidence <= 1.0
    assert out.target_language == "" and out.translated_text == ""
    assert meta.partition_key == event.conversation_id and meta.tenant_id == str(tenant)
    async with translation.kit.engine.connect() as conn:
        row = (await conn.execute(select(detections))).one()
    assert row.language == language and str(row.message_id) == event.message_id and row.tenant_id == tenant


@pytest.mark.parametrize("text", ["👍🙏😊", "!!!", "12345", "ok"])
async def test_nothing_to_detect_is_undetermined(translation, text):
    await translation.reset()
    event = await publish_threaded(translation, uuid.uuid4(), text)
    await translation.drained()
    out = translated(translation)[event.message_id][1]
    assert out.detected_language == "und" and out.confidence == 0.0


async def test_the_same_message_twice_is_detected_once(translation):
    await translation.reset()
    tenant = uuid.uuid4()
    event = threaded("Bonjour, où est ma commande ? Merci beaucoup.")
    meta = await translation.publish(event, key=event.conversation_id, tenant_id=tenant)
    await translation.bus.publish([to_record("ticket.messages.v1", event, meta)])   # redelivery (same ce_id)
    await translation.publish(event, key=event.conversation_id, tenant_id=tenant)    # re-emitted (new ce_id)
    await translation.drained()
    assert len(translation.events("translation.messages.v1")) == 1
    async with translation.kit.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(detections))).scalar_one() == 1


async def test_one_batch_with_a_repeated_and_an_already_detected_message_emits_once_each(translation):
    await translation.reset()
    tenant = uuid.uuid4()
    earlier, repeated = threaded("Guten Tag, wo ist meine Bestellung?"), threaded("Hola, ¿dónde está mi pedido?")
    await translation.publish(earlier, key=earlier.conversation_id, tenant_id=tenant)
    await translation.drained()
    records = [to_record("ticket.messages.v1", e, new_meta(e, tenant_id=str(tenant), source="ticket",
                                                           key=e.conversation_id))
               for e in (repeated, earlier, repeated)]      # three events, three ids, two messages
    [consumer] = translation.parts.consumers
    await consumer.handle_batch(records)
    await translation.drained()
    out = [m.message_id for _, m in translation.events("translation.messages.v1")]
    assert sorted(out) == sorted([earlier.message_id, repeated.message_id])
    async with translation.kit.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(detections))).scalar_one() == 2


async def test_a_batch_is_detected_in_one_go(translation):
    await translation.reset()
    tenant = uuid.uuid4()
    texts = [t for t, _ in CASES] * 5 + ["👍"]
    events, records = [], []
    for text in texts:
        e = threaded(text)
        events.append(e)
        records.append(to_record("ticket.messages.v1", e, new_meta(e, tenant_id=str(tenant), source="ticket",
                                                                   key=e.conversation_id)))
    [consumer] = translation.parts.consumers
    await consumer.handle_batch(records)
    await translation.drained()
    out = translated(translation)
    expected = [lang for _, lang in CASES] * 5 + ["und"]
    assert [out[e.message_id][1].detected_language for e in events] == expected


async def test_a_bad_event_is_dead_lettered(translation):
    await translation.reset()
    await publish_threaded(translation, uuid.uuid4(), "Hello there, where is my parcel?", message_id="nope")
    await translation.drained()
    assert translation.events("translation.messages.v1") == []
    assert len(translation.bus.records("translation.detect.dlq")) == 1


async def test_detect_endpoint(translation):
    h = translation.headers(uuid.uuid4())
    r = await translation.client.post("/api/v1/languages/detect", headers=h,
                                      json={"text": "Olá, o meu pedido ainda não chegou. Podem verificar?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["language"] == "pt" and 0.5 <= body["confidence"] <= 1
    assert 1 <= len(body["candidates"]) <= 3 and body["candidates"][0] == {"language": "pt",
                                                                           "confidence": body["confidence"]}
    confidences = [c["confidence"] for c in body["candidates"]]
    assert confidences == sorted(confidences, reverse=True)
    r = await translation.client.post("/api/v1/languages/detect", headers=h, json={"text": "🙂🙂"})
    assert r.status_code == 200 and r.json() == {"language": "und", "confidence": 0.0, "candidates": []}


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {}, {"text": 5}, {"text": "x" * 10_001}])
async def test_detect_endpoint_rejects_bad_input(translation, body):
    r = await translation.client.post("/api/v1/languages/detect", headers=translation.headers(uuid.uuid4()),
                                      json=body)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_detect_endpoint_needs_a_tenant(translation):
    r = await translation.client.post("/api/v1/languages/detect", json={"text": "hello world"})
    assert r.status_code == 401
