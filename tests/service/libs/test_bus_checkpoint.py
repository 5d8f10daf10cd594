"""The embedded runtime's bus checkpoint: events a relay handed to an in-memory bus that was then
lost (a crash) are sent again at the next start, and consumers skip what they had processed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from meridian.bus.base import Record
from meridian.bus.consumer import EventConsumer, EventSubscription
from meridian.bus.memory import MemoryBus
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.db.naming import service_metadata
from meridian.db.outbox import OutboxRelay, outbox_table, processed_events_table
from meridian.db.uow import Clock, SqlUnitOfWork
from meridian.runtime.checkpoint import BusCheckpoint
from sqlalchemy import MetaData

from tests.support.service import scratch_schema

SCHEMA = "libs_checkpoint"
TOPIC = "ticket.messages.v1"
metadata: MetaData = service_metadata()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)


@pytest.fixture
async def engine():
    async with scratch_schema(SCHEMA, metadata) as engine:
        yield engine


def _uow(engine, relay: OutboxRelay | None = None) -> SqlUnitOfWork:  # noqa: ANN001
    return SqlUnitOfWork(engine, outbox=outbox, processed=processed, source="test", data_region="eu", clock=Clock(),
                         on_commit=relay.wake if relay else None)


async def _emit(engine, ids: list[str]) -> None:  # noqa: ANN001
    async with _uow(engine) as uow:
        for i in ids:
            uow.emit(messages_v1.MessageThreaded(message_id=i, conversation_id="c1"), key="c1", tenant_id="t1")
        await uow.commit()


async def _platform(engine, handled: list[str], *, start: bool = True) -> tuple[MemoryBus, OutboxRelay]:  # noqa: ANN001
    """A bus with the consumer subscribed (started unless ``start`` is False) and a relay onto it."""
    bus = MemoryBus()
    bus.subscribe(_consumer(engine, bus, handled).subscription())
    if start:
        await bus.start()
    return bus, OutboxRelay(engine, outbox, bus, SCHEMA, poll_interval=0.05)


def _consumer(engine, bus: MemoryBus, handled: list[str]) -> EventConsumer:  # noqa: ANN001
    async def handler(message, meta, uow) -> None:  # noqa: ANN001
        handled.append(message.message_id)

    sub = EventSubscription(topics=[TOPIC], group="checkpoint-test", handlers={messages_v1.MessageThreaded: handler})
    return EventConsumer(sub, bus, lambda: _uow(engine))


async def test_events_lost_with_the_bus_are_sent_again_and_handled_once(engine, tmp_path):
    handled: list[str] = []
    # before the crash: m1 is handled; m2 and m3 reach the bus but the process dies before they are consumed
    bus, relay = await _platform(engine, handled)
    await _emit(engine, ["m1"])
    await relay.flush_once()
    await bus.drained()
    checkpoint = BusCheckpoint(tmp_path, bus)
    assert checkpoint.mark_if_drained(timedelta(0))
    await bus.stop()
    await _emit(engine, ["m2", "m3"])
    assert await relay.flush_once() == 2           # sent: into a bus nobody reads any more
    assert await relay.pending() == 0
    assert not BusCheckpoint(tmp_path, bus).mark_if_drained()  # records unconsumed: the checkpoint stays
    await relay.close()

    # the next start: a new bus, and what was sent since the checkpoint is sent again
    bus, relay = await _platform(engine, handled)
    checkpoint = BusCheckpoint(tmp_path, bus)
    assert await checkpoint.resend_unconfirmed([relay]) == 2
    await relay.flush_once()
    await bus.drained()
    assert handled == ["m1", "m2", "m3"]
    await relay.close()
    await bus.stop()


async def test_without_a_checkpoint_everything_retained_is_sent_again_and_duplicates_are_skipped(engine, tmp_path):
    handled: list[str] = []
    bus, relay = await _platform(engine, handled)
    await _emit(engine, ["m1", "m2"])
    await relay.flush_once()
    await bus.drained()
    checkpoint = BusCheckpoint(tmp_path / "missing", bus)
    assert checkpoint.read() is None
    assert await checkpoint.resend_unconfirmed([relay]) == 2
    await relay.flush_once()
    await bus.drained()
    assert handled == ["m1", "m2"]                 # processed before: skipped
    await relay.close()
    await bus.stop()


async def test_a_clean_stop_drains_then_marks_now(engine, tmp_path):
    handled: list[str] = []
    bus, relay = await _platform(engine, handled)
    running = asyncio.create_task(relay.run())
    try:
        await _emit(engine, ["m1", "m2"])         # not yet published when the stop begins
        checkpoint = BusCheckpoint(tmp_path, bus)
        before = datetime.now(UTC)
        assert await checkpoint.drain_and_mark([relay], timeout=10)
        assert handled == ["m1", "m2"]
        assert checkpoint.read() >= before
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await bus.stop()


async def test_a_stop_that_cannot_drain_leaves_the_checkpoint(engine, tmp_path):
    bus, relay = await _platform(engine, [], start=False)
    await _emit(engine, ["m1"])
    await relay.flush_once()                       # the bus is not started: nothing is consumed
    checkpoint = BusCheckpoint(tmp_path, bus)
    assert not await checkpoint.drain_and_mark([relay], timeout=0.2)
    assert checkpoint.read() is None
    await relay.close()


async def test_an_idle_platform_leaves_the_checkpoint_alone(tmp_path):
    bus = MemoryBus()
    checkpoint = BusCheckpoint(tmp_path, bus)
    assert checkpoint.mark_if_drained(timedelta(0))
    first = checkpoint.read()
    await asyncio.sleep(0.01)

    assert checkpoint.mark_if_drained(timedelta(0))   # nothing published since: current as it is
    assert checkpoint.read() == first

    await bus.publish([Record(topic=TOPIC, value=b"x")])
    assert checkpoint.mark_if_drained(timedelta(0))   # drained (nobody reads the topic), and it moves
    assert checkpoint.read() > first
