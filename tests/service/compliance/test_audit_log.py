"""Compliance's audit log on a real PostgreSQL schema with the in-memory bus: consumption from
every service's audit topic, the per-tenant hash chain, append-only enforcement, the REST API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from meridian.bus.consumer import dlq_topic
from meridian.contracts.audit import records_v1_pb2 as audit_v1
from meridian.events.envelope import new_meta, to_record
from meridian_compliance.consumers import AUDIT_TOPICS
from meridian_compliance.domain.chain import GENESIS
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)


def audit(action: str = "ticket.assigned", *, service: str = "ticket", resource_type: str = "ticket",
          resource_id: str = "t-1", at: datetime = T0, **details: str) -> audit_v1.AuditRecorded:
    msg = audit_v1.AuditRecorded(actor_type="user", actor_id="agent-1", action=action, resource_type=resource_type,
                                 resource_id=resource_id, service=service, details=details)
    msg.occurred_at.FromDatetime(at)
    return msg


async def publish(svc, msg: audit_v1.AuditRecorded, tenant: uuid.UUID):  # noqa: ANN001, ANN201
    topic = f"{msg.service.replace('-', '_')}.audit.v1"
    return await svc.publish(msg, key=msg.resource_id, tenant_id=tenant, topic=topic, source=msg.service)


async def listing(svc, tenant: uuid.UUID, **params) -> dict:  # noqa: ANN001, ANN003
    r = await svc.client.get("/api/v1/audit-events", params=params, headers=svc.headers(tenant))
    assert r.status_code == 200, r.text
    return r.json()


async def verify(svc, tenant: uuid.UUID) -> dict:  # noqa: ANN001
    r = await svc.client.get("/api/v1/audit-events/verify", headers=svc.headers(tenant))
    assert r.status_code == 200, r.text
    return r.json()


def test_subscribes_to_exactly_the_audit_topics() -> None:
    assert sorted(AUDIT_TOPICS) == sorted(["gateway.audit.v1", "ingest.audit.v1", "ticket.audit.v1",
                                           "routing.audit.v1", "translation.audit.v1", "knowledge_base.audit.v1",
                                           "compliance.audit.v1"])


async def test_records_from_two_services_and_two_tenants_are_chained_per_tenant(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    a, b = uuid.uuid4(), uuid.uuid4()
    metas = []
    for i in range(3):
        metas.append(await publish(compliance, audit("ticket.assigned", resource_id=f"t-{i}",
                                                     at=T0 + timedelta(minutes=i), n=str(i)), a))
        await publish(compliance, audit("inbox.created", service="ingest", resource_type="inbox",
                                        resource_id=f"i-{i}", at=T0 + timedelta(minutes=i)), b)
    metas.append(await publish(compliance, audit("article.created", service="knowledge-base",
                                                 resource_type="article", resource_id="a-1"), a))
    await compliance.drained()

    items_a = (await listing(compliance, a))["items"]
    # stored in arrival order (topics and keys are consumed independently), listed newest first
    assert sorted(i["id"] for i in items_a) == sorted(str(m.id) for m in metas)
    seqs = [i["seq"] for i in items_a]
    assert seqs == sorted(seqs, reverse=True)
    # per-tenant chain: each record links to the tenant's previous one, the first to GENESIS
    chain = list(reversed(items_a))
    assert chain[0]["prev_hash"] == GENESIS.hex()
    for prev, cur in zip(chain, chain[1:], strict=False):
        assert cur["prev_hash"] == prev["hash"]
    first = next(i for i in items_a if i["resource_id"] == "t-0")
    assert first["service"] == "ticket" and first["action"] == "ticket.assigned" and first["resource_type"] == "ticket"
    assert first["actor_type"] == "user" and first["actor_id"] == "agent-1" and first["details"] == {"n": "0"}
    assert datetime.fromisoformat(first["occurred_at"]) == T0
    assert datetime.fromisoformat(first["recorded_at"]).tzinfo is not None
    assert {i["service"] for i in items_a} == {"ticket", "knowledge-base"}
    assert len(first["hash"]) == 64

    items_b = (await listing(compliance, b))["items"]
    assert len(items_b) == 3 and {i["service"] for i in items_b} == {"ingest"}
    assert items_b[-1]["prev_hash"] == GENESIS.hex()
    assert await verify(compliance, a) == {"valid": True, "checked": 4, "first_broken_seq": None}
    assert await verify(compliance, b) == {"valid": True, "checked": 3, "first_broken_seq": None}
    assert await verify(compliance, uuid.uuid4()) == {"valid": True, "checked": 0, "first_broken_seq": None}


async def test_listing_filters_and_pagination(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    t = uuid.uuid4()
    for msg in (audit("ticket.opened", resource_id="t-1", at=T0),
                audit("ticket.assigned", resource_id="t-1", at=T0 + timedelta(hours=1)),
                audit("ticket.assigned", resource_id="t-2", at=T0 + timedelta(hours=2)),
                audit("agent.updated", service="routing", resource_type="agent", resource_id="ag-1",
                      at=T0 + timedelta(hours=3))):
        await publish(compliance, msg, t)
        await compliance.drained()   # one at a time: arrival order = seq order

    async def actions(**params) -> list[str]:  # noqa: ANN003
        return [(i["action"], i["resource_id"]) for i in (await listing(compliance, t, **params))["items"]]

    assert await actions(service="routing") == [("agent.updated", "ag-1")]
    assert await actions(resource_type="ticket", resource_id="t-1") == [("ticket.assigned", "t-1"),
                                                                         ("ticket.opened", "t-1")]
    assert await actions(action="ticket.assigned") == [("ticket.assigned", "t-2"), ("ticket.assigned", "t-1")]
    since = (T0 + timedelta(hours=1)).isoformat()
    until = (T0 + timedelta(hours=3)).isoformat()
    assert await actions(since=since, until=until) == [("ticket.assigned", "t-2"), ("ticket.assigned", "t-1")]

    page1 = await listing(compliance, t, limit=3)
    assert len(page1["items"]) == 3 and page1["next_cursor"]
    page2 = await listing(compliance, t, limit=3, cursor=page1["next_cursor"])
    assert [i["action"] for i in page2["items"]] == ["ticket.opened"] and page2["next_cursor"] is None
    page_f = await listing(compliance, t, limit=1, action="ticket.assigned")
    page_f2 = await listing(compliance, t, limit=1, action="ticket.assigned", cursor=page_f["next_cursor"])
    assert [i["resource_id"] for i in page_f["items"] + page_f2["items"]] == ["t-2", "t-1"]


async def test_bad_requests(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    h = compliance.headers(uuid.uuid4())
    for params in ({"cursor": "garbage"}, {"limit": 0}, {"limit": 201}, {"since": "yesterday"},
                   {"since": "2025-01-02T00:00:00Z", "until": "2025-01-01T00:00:00Z"}):
        r = await compliance.client.get("/api/v1/audit-events", params=params, headers=h)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await compliance.client.get("/api/v1/audit-events")).status_code == 401
    assert (await compliance.client.get("/api/v1/audit-events/verify")).status_code == 401


async def test_duplicate_event_is_stored_once(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    t = uuid.uuid4()
    msg = audit()
    meta = new_meta(msg, tenant_id=str(t), source="ticket", key="t-1")
    record = to_record("ticket.audit.v1", msg, meta)
    await compliance.bus.publish([record])
    await compliance.bus.publish([record])
    await compliance.drained()
    # the same event replayed on another consumer group / after the markers were pruned: the unique id holds
    from meridian_compliance.handlers import on_audit_recorded
    async with compliance.kit.uow() as uow:
        await on_audit_recorded(msg, meta, uow)
        await uow.commit()
    items = (await listing(compliance, t))["items"]
    assert [i["id"] for i in items] == [str(meta.id)]
    assert (await verify(compliance, t))["valid"] is True


async def test_invalid_tenant_is_dead_lettered(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    await compliance.publish(audit(), key="t-1", tenant_id="not-a-uuid", topic="ticket.audit.v1")
    await compliance.drained()
    dead = compliance.bus.records(dlq_topic("compliance.audit"))
    assert len(dead) == 1
    assert b"AuditRecordInvalid" in dict(dead[0].headers)["x-dlq-reason"]


async def test_concurrent_batches_do_not_fork_a_chain(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    t = uuid.uuid4()
    from meridian_compliance.handlers import on_audit_recorded

    async def append(i: int) -> None:
        msg = audit(resource_id=f"t-{i}")
        meta = new_meta(msg, tenant_id=str(t), source="ticket", key=f"t-{i}")
        async with compliance.kit.uow() as uow:
            await on_audit_recorded(msg, meta, uow)
            await asyncio.sleep(0)   # let the others try to read the chain head meanwhile
            await uow.commit()

    await asyncio.gather(*(append(i) for i in range(12)))
    assert await verify(compliance, t) == {"valid": True, "checked": 12, "first_broken_seq": None}


async def test_tampering_is_detected(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    t, other = uuid.uuid4(), uuid.uuid4()
    for i in range(4):
        await publish(compliance, audit(resource_id=f"t-{i}"), t)
        await publish(compliance, audit(resource_id=f"t-{i}"), other)
    await compliance.drained()
    items = list(reversed((await listing(compliance, t))["items"]))
    victim = items[2]["seq"]
    async with compliance.kit.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE compliance.audit_events DISABLE TRIGGER audit_events_append_only"))
        await conn.execute(text("UPDATE compliance.audit_events SET actor_id = 'intruder' WHERE seq = :s"),
                           {"s": victim})
        await conn.execute(text("ALTER TABLE compliance.audit_events ENABLE TRIGGER audit_events_append_only"))
    assert await verify(compliance, t) == {"valid": False, "checked": 4, "first_broken_seq": victim}
    assert (await verify(compliance, other))["valid"] is True

    # deleting a link breaks the chain at the following one
    await compliance.reset()
    for i in range(3):
        await publish(compliance, audit(resource_id=f"t-{i}"), t)
    await compliance.drained()
    items = list(reversed((await listing(compliance, t))["items"]))
    async with compliance.kit.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE compliance.audit_events DISABLE TRIGGER audit_events_append_only"))
        await conn.execute(text("DELETE FROM compliance.audit_events WHERE seq = :s"), {"s": items[1]["seq"]})
        await conn.execute(text("ALTER TABLE compliance.audit_events ENABLE TRIGGER audit_events_append_only"))
    assert await verify(compliance, t) == {"valid": False, "checked": 2, "first_broken_seq": items[2]["seq"]}


@pytest.mark.parametrize("statement", [
    "UPDATE compliance.audit_events SET action = 'x'",
    "DELETE FROM compliance.audit_events",
])
async def test_update_and_delete_are_refused_by_the_database(compliance, statement: str) -> None:  # noqa: ANN001
    await compliance.reset()
    t = uuid.uuid4()
    await publish(compliance, audit(), t)
    await compliance.drained()
    with pytest.raises(DBAPIError, match="append-only"):
        async with compliance.kit.engine.begin() as conn:
            await conn.execute(text(statement))
    assert len((await listing(compliance, t))["items"]) == 1
    assert (await verify(compliance, t))["valid"] is True


async def test_tenant_isolation(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    mine, other = uuid.uuid4(), uuid.uuid4()
    await publish(compliance, audit(resource_id="secret-ticket"), mine)
    await compliance.drained()
    assert (await listing(compliance, other))["items"] == []
    assert (await listing(compliance, other, resource_id="secret-ticket"))["items"] == []
    assert (await verify(compliance, other))["checked"] == 0
    assert len((await listing(compliance, mine))["items"]) == 1


async def test_one_batch_chains_tenants_in_event_order_and_skips_stored_ids(compliance) -> None:  # noqa: ANN001
    await compliance.reset()
    a, b = uuid.uuid4(), uuid.uuid4()
    stored = audit(resource_id="before")
    stored_meta = await publish(compliance, stored, a)
    await compliance.drained()

    records, expected = [], {a: [str(stored_meta.id)], b: []}
    for i in range(40):
        tenant = a if i % 3 else b
        msg = audit(resource_id=f"t-{i}", at=T0 + timedelta(seconds=i), i=str(i))
        meta = new_meta(msg, tenant_id=str(tenant), source="ticket", key=f"t-{i}")
        records.append(to_record("ticket.audit.v1", msg, meta))
        expected[tenant].append(str(meta.id))
    records.insert(5, records[2])                                             # redelivered within the batch
    records.append(to_record("ticket.audit.v1", stored, stored_meta))        # stored before (marker and row)
    [consumer] = compliance.parts.consumers
    await consumer.handle_batch(records)   # one batch, one transaction

    for tenant in (a, b):
        chain = list(reversed((await listing(compliance, tenant, limit=200))["items"]))
        assert [i["id"] for i in chain] == expected[tenant]    # once each, in the batch's order
        assert chain[0]["prev_hash"] == GENESIS.hex()
        for prev, cur in zip(chain, chain[1:], strict=False):
            assert cur["prev_hash"] == prev["hash"]
        assert await verify(compliance, tenant) == {"valid": True, "checked": len(expected[tenant]),
                                                    "first_broken_seq": None}
