import uuid

import pytest
from meridian.events.envelope import new_meta, to_record
from meridian_translation.tables import detections
from sqlalchemy import func, select

from tests.service.translation.conftest import key_of, publish_received, received, translated

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
    event_meta = await publish_received(translation, tenant, text)
    await translation.drained()
    [(meta, out)] = translated(translation).values()
    assert out.received_event_id == str(event_meta.id) and out.message_id == "" and out.conversation_id == ""
    assert out.detected_language == language and 0.5 <= out.confidence <= 1.0
    assert out.target_language == "" and out.translated_text == ""
    assert meta.partition_key == event_meta.partition_key and meta.tenant_id == str(tenant)
    assert meta.causation_id == str(event_meta.id)
    async with translation.kit.engine.connect() as conn:
        row = (await conn.execute(select(detections))).one()
    assert (row.language, row.received_event_id, row.tenant_id) == (language, event_meta.id, tenant)


@pytest.mark.parametrize("text", ["👍🙏😊", "!!!", "12345", "ok"])
async def test_nothing_to_detect_is_undetermined(translation, text):
    await translation.reset()
    meta = await publish_received(translation, uuid.uuid4(), text)
    await translation.drained()
    out = translated(translation)[str(meta.id)][1]
    assert out.detected_language == "und" and out.confidence == 0.0


async def test_the_same_message_twice_is_detected_once(translation):
    await translation.reset()
    tenant = uuid.uuid4()
    event = received("Bonjour, où est ma commande ? Merci beaucoup.")
    meta = await translation.publish(event, key=key_of(event), tenant_id=tenant)
    await translation.bus.publish([to_record("ingest.messages.v1", event, meta)])    # redelivery (same ce_id)
    await translation.drained()
    assert len(translation.events("translation.messages.v1")) == 1
    async with translation.kit.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(detections))).scalar_one() == 1


async def test_one_batch_with_a_repeated_and_an_already_detected_event_emits_once_each(translation):
    await translation.reset()
    tenant = uuid.uuid4()
    earlier = received("Guten Tag, wo ist meine Bestellung?")
    earlier_meta = await translation.publish(earlier, key=key_of(earlier), tenant_id=tenant)
    await translation.drained()
    repeated = received("Hola, ¿dónde está mi pedido?")
    repeated_meta = new_meta(repeated, tenant_id=str(tenant), source="ingest", key=key_of(repeated))
    records = [to_record("ingest.messages.v1", repeated, repeated_meta),
               to_record("ingest.messages.v1", earlier, earlier_meta),      # detected in an earlier batch
               to_record("ingest.messages.v1", repeated, repeated_meta)]    # the same event twice
    [consumer] = translation.parts.consumers
    await consumer.handle_batch(records)
    await translation.drained()
    out = [m.received_event_id for _, m in translation.events("translation.messages.v1")]
    assert sorted(out) == sorted([str(earlier_meta.id), str(repeated_meta.id)])
    async with translation.kit.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(detections))).scalar_one() == 2


async def test_a_batch_is_detected_in_one_go(translation):
    await translation.reset()
    tenant = uuid.uuid4()
    texts = [t for t, _ in CASES] * 5 + ["👍"]
    metas, records = [], []
    for text in texts:
        e = received(text)
        meta = new_meta(e, tenant_id=str(tenant), source="ingest", key=key_of(e))
        metas.append(meta)
        records.append(to_record("ingest.messages.v1", e, meta))
    [consumer] = translation.parts.consumers
    await consumer.handle_batch(records)
    await translation.drained()
    out = translated(translation)
    expected = [lang for _, lang in CASES] * 5 + ["und"]
    assert [out[str(m.id)][1].detected_language for m in metas] == expected


async def test_a_bad_event_is_dead_lettered(translation):
    await translation.reset()
    event = received("Hello there, where is my parcel?")
    await translation.publish(event, key=key_of(event), tenant_id="not-a-tenant")
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


async def test_a_batch_emits_in_the_order_its_events_came_even_with_one_redelivered_inside(translation):
    await translation.reset()
    tenant = uuid.uuid4()
    first, second = received("Guten Tag, wo ist meine Bestellung?"), received("Hola, ¿dónde está mi pedido?")
    metas = [new_meta(e, tenant_id=str(tenant), source="ingest", key=key_of(e)) for e in (first, second)]
    records = [to_record("ingest.messages.v1", first, metas[0]), to_record("ingest.messages.v1", second, metas[1]),
               to_record("ingest.messages.v1", first, metas[0])]              # the first again, same ce_id
    [consumer] = translation.parts.consumers
    await consumer.handle_batch(records)
    await translation.drained()
    assert [m.received_event_id for _, m in translation.events("translation.messages.v1")] == [
        str(metas[0].id), str(metas[1].id)]
