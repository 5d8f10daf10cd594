"""Pooled connections that the database dropped (a restart, a failover, an idle timeout): the first
use fails at most once per pool, nothing is lost, and the next attempt gets a fresh connection."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from meridian.bus.base import Record
from meridian.bus.consumer import EventConsumer, EventSubscription
from meridian.bus.memory import MemoryBus
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.db.engine import make_engine
from meridian.db.naming import service_metadata
from meridian.db.outbox import OutboxRelay, outbox_table, processed_events_table
from meridian.db.uow import Clock, SqlUnitOfWork
from meridian.events.envelope import decode, new_meta, to_record
from sqlalchemy import Column, MetaData, Table, Text, func, insert, select, text
from sqlalchemy.dialects.postgresql import UUID

from tests.support.service import TEST_DATABASE_URL, scratch_schema

SCHEMA = "libs_reconnect"
metadata: MetaData = service_metadata()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
seen = Table("seen", metadata, Column("id", UUID(as_uuid=True), primary_key=True), Column("text", Text))


@pytest.fixture
async def engine():
    async with scratch_schema(SCHEMA, metadata) as engine:
        yield engine


async def drop_pooled_connections(engine) -> int:  # noqa: ANN001
    """Terminate the server side of every connection the engine has pooled."""
    admin = make_engine(TEST_DATABASE_URL, "public")
    try:
        async with admin.begin() as conn:
            return len((await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :app AND pid <> pg_backend_pid()"), {"app": f"meridian-{SCHEMA}"})).all())
    finally:
        await admin.dispose()


async def test_a_consumer_batch_on_dropped_connections_is_retried_and_handled_once(engine):
    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, outbox=outbox, processed=processed, source="test", data_region="eu",
                             clock=Clock())

    async def handler(message, meta, u):  # noqa: ANN001
        await u.conn.execute(insert(seen).values(id=uuid.uuid4(), text=message.message_id))

    sub = EventSubscription(topics=["ticket.messages.v1"], group="reconnect",
                            handlers={messages_v1.MessageThreaded: handler})
    consumer = EventConsumer(sub, MemoryBus(), uow, base_backoff=0.01)
    records = []
    for i in range(3):
        msg = messages_v1.MessageThreaded(message_id=f"m{i}", conversation_id="c1", text="hi")
        r = to_record("ticket.messages.v1", msg, new_meta(msg, tenant_id="t1", source="test", key="c1"))
        records.append(Record(topic=r.topic, key=r.key, value=r.value, headers=r.headers, partition=0, offset=i))
    async with engine.begin() as conn:          # fill the pool
        await conn.execute(select(1))
    assert await drop_pooled_connections(engine) >= 1
    await consumer.handle_batch(records)
    async with engine.connect() as conn:
        stored = sorted((await conn.execute(select(seen.c.text))).scalars())
        assert stored == ["m0", "m1", "m2"]
        assert await conn.scalar(select(func.count()).select_from(processed)) == 3


async def test_after_dropped_connections_the_next_transaction_works(engine):
    async with engine.begin() as conn:
        await conn.execute(select(1))
    await drop_pooled_connections(engine)
    failures = 0
    for _ in range(2):                         # a request on a dropped connection may fail once
        try:
            async with engine.begin() as conn:
                await conn.execute(insert(seen).values(id=uuid.uuid4(), text="after"))
            break
        except Exception:  # noqa: BLE001 - whatever the driver raises for a closed connection
            failures += 1
    assert failures <= 1, failures
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(seen)) == 1


async def test_the_relay_replaces_its_kept_connection_when_the_database_drops_it(engine):
    bus = MemoryBus()
    relay = OutboxRelay(engine, outbox, bus, SCHEMA, poll_interval=0.05)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, outbox=outbox, processed=processed, source="test", data_region="eu",
                             clock=Clock(), on_commit=relay.wake)

    async def emit(i: int) -> None:
        for attempt in range(2):  # the writer's own pooled connection was dropped too: it may fail once
            try:
                async with uow() as u:
                    u.emit(messages_v1.MessageThreaded(message_id=f"m{i}", conversation_id="c1"), key="c1",
                           tenant_id="t1")
                    await u.commit()
                return
            except Exception:  # noqa: BLE001 - whatever the driver raises for a closed connection
                if attempt:
                    raise

    async def published(n: int) -> None:
        for _ in range(200):
            if len(bus.records("ticket.messages.v1")) >= n:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{n} records not published; pending {await relay.pending()}")

    await bus.start()
    task = asyncio.create_task(relay.run())
    try:
        await emit(0)
        await published(1)
        assert await drop_pooled_connections(engine) >= 1  # the relay's kept connection among them
        await emit(1)
        await emit(2)
        await published(3)
        assert [decode(r)[1].message_id for r in bus.records("ticket.messages.v1")] == ["m0", "m1", "m2"]
        assert await relay.pending() == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.stop()


async def test_a_statement_run_alone_writes_its_events_and_survives_a_dropped_connection(engine):
    """``SqlUnitOfWork.run_alone``: data and queued events in one statement without a transaction,
    the relay woken after it; on a dropped connection it fails at most once and the next one works."""
    from meridian.db.uow import outbox_insert_sql

    woken = []

    def statement(outbox_name: str) -> str:
        return (f"WITH events AS ({outbox_insert_sql(outbox_name, 2)}) "
                "INSERT INTO seen (id, text) VALUES (gen_random_uuid(), $1) RETURNING text")

    async def write(text_value: str) -> list:
        u = SqlUnitOfWork(engine, outbox=outbox, processed=processed, source="test", data_region="eu",
                          clock=Clock(), on_commit=lambda: woken.append(text_value))
        u.emit(messages_v1.MessageThreaded(message_id=text_value, conversation_id="c1"), key="c1", tenant_id="t1")
        return await u.run_alone(statement, text_value, *u.outbox_arrays())

    assert [r["text"] for r in await write("first")] == ["first"]
    await drop_pooled_connections(engine)
    failures = 0
    for _ in range(2):
        try:
            await write("after")
            break
        except Exception:  # noqa: BLE001 - whatever the driver raises for a closed connection
            failures += 1
    assert failures <= 1, failures
    assert woken == ["first", "after"]
    async with engine.connect() as conn:
        assert sorted((await conn.execute(select(seen.c.text))).scalars()) == ["after", "first"]
        rows = (await conn.execute(select(outbox.c.payload).order_by(outbox.c.seq))).scalars().all()
    assert [messages_v1.MessageThreaded.FromString(p).message_id for p in rows] == ["first", "after"]
