"""The event plumbing on a real PostgreSQL schema and the in-memory bus: outbox relay order and
outage handling; consumers' idempotency, retries, dead letters with reasons."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from meridian.bus.base import BusUnavailable, Record
from meridian.bus.consumer import EventConsumer, EventSubscription
from meridian.bus.memory import MemoryBus
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.db.naming import service_metadata
from meridian.db.outbox import OutboxRelay, outbox_table, processed_events_table
from meridian.db.uow import Clock, SqlUnitOfWork
from meridian.errors import ValidationFailed
from meridian.events.envelope import decode, new_meta, to_record
from sqlalchemy import Column, MetaData, Table, Text, func, insert, select
from sqlalchemy.dialects.postgresql import UUID

from tests.support.service import scratch_schema
from tests.support.waiting import wait_until

SCHEMA = "libs_test"
metadata: MetaData = service_metadata()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
seen = Table("seen", metadata, Column("id", UUID(as_uuid=True), primary_key=True), Column("text", Text))


class FlakyBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def publish(self, records):  # noqa: ANN001
        if self.down and not all(r.topic.endswith(".dlq") for r in records):
            raise BusUnavailable("broker down")
        await super().publish(records)


@pytest.fixture(scope="module")
async def env():
    async with scratch_schema(SCHEMA, metadata) as engine:
        bus = FlakyBus()
        relay = OutboxRelay(engine, outbox, bus, SCHEMA, poll_interval=0.05)

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, outbox=outbox, processed=processed, source="libs-test", data_region="eu",
                                 clock=Clock(), on_commit=relay.wake)

        await bus.start()
        task = asyncio.create_task(relay.run())
        yield engine, bus, relay, uow
        task.cancel()
        await bus.stop()


def threaded(i: int, conversation: str = "c1") -> messages_v1.MessageThreaded:
    return messages_v1.MessageThreaded(message_id=f"m{i}", conversation_id=conversation, inbox_id="i", text=f"t{i}")


async def test_outbox_rows_are_published_in_order_and_survive_an_outage(env):
    engine, bus, relay, uow = env
    topic = "ticket.messages.v1"
    before = len(bus.records(topic))
    bus.down = True
    for i in range(5):
        async with uow() as u:
            u.emit(threaded(i), key="c1", tenant_id="t1")
            await u.commit()
    await asyncio.sleep(0.2)  # the relay tries and fails meanwhile; nothing may be lost or reordered
    assert await relay.pending() == 5
    bus.down = False

    async def published() -> bool:
        return await relay.pending() == 0

    await wait_until(published)
    got = [decode(r)[1].message_id for r in bus.records(topic)[before:]]
    assert got == [f"m{i}" for i in range(5)]
    # services publish binary protobuf: the outbox holds the serialized message, the relay sends it as is
    assert {r.header("content-type") for r in bus.records(topic)[before:]} == {b"application/protobuf"}
    assert bus.records(topic)[before].value == threaded(0).SerializeToString(deterministic=True)
    async with engine.connect() as conn:
        failed_once = await conn.scalar(select(func.max(outbox.c.attempts)))
    assert failed_once >= 1


def consumer(bus, uow, handler, group: str) -> EventConsumer:  # noqa: ANN001
    sub = EventSubscription(topics=["ticket.messages.v1"], group=group,
                            handlers={messages_v1.MessageThreaded: handler})
    c = EventConsumer(sub, bus, uow, base_backoff=0.01)
    return c


async def test_duplicates_are_handled_once_and_poison_events_are_dead_lettered(env):
    engine, bus, _, uow = env
    group = f"test.{uuid.uuid4().hex[:6]}"
    calls: list[str] = []

    async def handler(message, meta, u):  # noqa: ANN001
        calls.append(message.message_id)
        if message.text == "poison":
            raise RuntimeError("cannot handle this one")
        if message.text == "invalid":
            raise ValidationFailed("text is not acceptable")
        await u.conn.execute(insert(seen).values(id=uuid.uuid4(), text=message.message_id))

    c = consumer(bus, uow, handler, group)
    good = threaded(1)
    meta = new_meta(good, tenant_id="t1", source="test", key="c1")
    records = [
        to_record("ticket.messages.v1", good, meta),
        to_record("ticket.messages.v1", good, meta),  # the same event again
        Record(topic="ticket.messages.v1", value=b"{}", key=b"c1",
               headers=(("ce_id", str(uuid.uuid4()).encode()), ("ce_type", b"meridian.ticket.v1.Unheard"),
                        ("ce_tenant", b"t1"))),
    ]
    poison = messages_v1.MessageThreaded(message_id="p", conversation_id="c1", text="poison")
    invalid = messages_v1.MessageThreaded(message_id="v", conversation_id="c1", text="invalid")
    later = threaded(2)
    for m in (poison, invalid, later):
        records.append(to_record("ticket.messages.v1", m, new_meta(m, tenant_id="t1", source="test", key="c1")))
    await c.handle_batch([Record(topic=r.topic, value=r.value, key=r.key, headers=r.headers, partition=0, offset=i)
                          for i, r in enumerate(records)])

    async with engine.connect() as conn:
        stored = sorted((await conn.execute(select(seen.c.text))).scalars())
    assert stored.count("m1") == 1 and "m2" in stored  # duplicate once; the consumer went on after the poison
    assert calls.count("p") == 1 + 5  # the failed batch, then 5 attempts on its own, then dead-lettered
    assert calls.count("v") == 1  # a domain error is not retried
    dlq = bus.records(f"{group}.dlq")
    reasons = {r.header("x-original-offset").decode(): r.header("x-dlq-reason").decode() for r in dlq}
    assert set(reasons) == {"2", "3", "4"}
    assert "unknown event type" in reasons["2"]
    assert "RuntimeError: cannot handle this one" in reasons["3"]
    assert "ValidationFailed" in reasons["4"]
    assert {r.header("x-original-topic") for r in dlq} == {b"ticket.messages.v1"}
    assert dlq[1].header("x-dlq-attempts") == b"5"
    assert dlq[1].value == records[3].value  # the original value is kept
    assert dlq[1].headers[:len(records[3].headers)] == records[3].headers  # and its headers (content-type too)
    assert dlq[1].header("content-type") == b"application/protobuf"


async def test_integrator_json_and_service_binary_events_are_both_consumed(env):
    engine, bus, _, uow = env
    group = f"test.{uuid.uuid4().hex[:6]}"
    handled: list[tuple[str, str]] = []

    async def handler(message, meta, u):  # noqa: ANN001
        handled.append((message.message_id, meta.content_type))
        u.emit(threaded(int(message.message_id[1:]) + 100), key="c1", tenant_id=meta.tenant_id)

    c = consumer(bus, uow, handler, group)
    from_service = threaded(1)
    binary = to_record("ticket.messages.v1", from_service, new_meta(from_service, tenant_id="t1", source="t", key="c1"))
    kcat_meta = new_meta(threaded(2), tenant_id="t1", source="/integrations/acme", key="c1")
    from_integrator = Record(  # what `kcat ... -H content-type=application/json` sends
        topic="ticket.messages.v1", key=b"c1",
        value=b'{"messageId":"m2","conversationId":"c1","inboxId":"i","text":"t2"}',
        headers=tuple((k, b"application/json" if k == "content-type" else v)
                      for k, v in to_record("ticket.messages.v1", threaded(2), kcat_meta).headers))
    before = len(bus.records("ticket.messages.v1"))
    await c.handle_batch([Record(topic=r.topic, value=r.value, key=r.key, headers=r.headers, partition=0, offset=i)
                          for i, r in enumerate([binary, from_integrator])])
    assert handled == [("m1", "application/protobuf"), ("m2", "application/json")]
    assert bus.records(f"{group}.dlq") == []

    async def relayed() -> bool:
        return len(bus.records("ticket.messages.v1")) >= before + 2

    await wait_until(relayed)
    caused = bus.records("ticket.messages.v1")[before:]
    assert {r.header("content-type") for r in caused} == {b"application/protobuf"}  # JSON in, binary out
    assert sorted(decode(r)[1].message_id for r in caused) == ["m101", "m102"]


class CountingRelay(OutboxRelay):
    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.claims: list[int] = []

    async def flush_once(self) -> int:
        sent = await super().flush_once()
        self.claims.append(sent)
        return sent


async def test_relay_drains_full_batches_and_spends_no_empty_claim_after_a_partial_one():
    async with scratch_schema("libs_test_relay", metadata) as engine:
        bus = MemoryBus()
        relay = CountingRelay(engine, outbox, bus, "libs_test_relay", batch=2, poll_interval=60)

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, outbox=outbox, processed=processed, source="libs-test", data_region="eu",
                                 clock=Clock(), on_commit=relay.wake)

        await bus.start()
        task = asyncio.create_task(relay.run())
        try:
            async with uow() as u:
                for i in range(5):
                    u.emit(threaded(i), key="c1", tenant_id="t1")
                await u.commit()

            async def published() -> bool:
                return len(bus.records("ticket.messages.v1")) == 5

            await wait_until(published)
            await asyncio.sleep(0.1)
            # two full batches, then the partial one ends the round: no fourth, empty claim
            assert relay.claims == [2, 2, 1]
            assert [decode(r)[1].message_id for r in bus.records("ticket.messages.v1")] == [f"m{i}" for i in range(5)]
        finally:
            task.cancel()
            await bus.stop()


async def test_a_relay_round_commits_without_waiting_for_the_disk_and_only_that_round():
    """Losing a round in a crash only publishes its rows again, so the round need not wait for
    its WAL flush; the setting must not outlive the round's transaction on the kept connection."""
    async with scratch_schema("libs_test_relay_commit", metadata) as engine:
        relay = OutboxRelay(engine, outbox, MemoryBus(), "libs_test_relay_commit")
        async with engine.connect() as lease:
            conn = (await lease.get_raw_connection()).driver_connection
            async with conn.transaction():
                await conn.fetch(relay._sql.claim, 1, 10)
                assert await conn.fetchval("SHOW synchronous_commit") == "off"
            assert await conn.fetchval("SHOW synchronous_commit") == "on"
