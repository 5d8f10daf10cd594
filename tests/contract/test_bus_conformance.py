"""One contract for both buses: MemoryBus, and KafkaBus on a Tansu broker (idempotence off).

Waiting is always a bounded poll of a condition (every 20 ms), never a fixed sleep. "Settled"
means every group committed every record: ``MemoryBus.drained()``, or committed offsets equal
to the end offsets for Kafka. Checks for "nothing more arrives" run after settling.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from meridian.bus import Bus, BusUnavailable, KafkaBus, MemoryBus, Record, Subscription
from meridian.bus.memory import partition_for

from tests.support.broker import TansuBroker
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio

PARTITIONS = 4


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


class Collector:
    """A batch handler that records what it got; ``fail_first`` calls raise."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.calls = 0
        self.failed: list[list[Record]] = []
        self.batches: list[list[Record]] = []

    async def __call__(self, batch: list[Record]) -> None:
        self.calls += 1
        if self.calls <= self.fail_first:
            self.failed.append(batch)
            raise RuntimeError("handler failure (test)")
        self.batches.append(batch)

    @property
    def records(self) -> list[Record]:
        return [r for b in self.batches for r in b]

    def values(self) -> list[bytes]:
        return [r.value for r in self.records]


# -- backends --------------------------------------------------------------------------------


class Backend:
    name: str

    def new_bus(self) -> Bus:
        raise NotImplementedError

    async def reopen(self, bus: Bus) -> Bus:
        """Stop ``bus``; return a bus that sees its records and committed offsets."""
        raise NotImplementedError

    async def settle(self, bus: Bus, groups: Sequence[str], topics: Sequence[str], seen: Sequence[Record]) -> None:
        """Wait until ``groups`` committed everything; ``seen``: records the test received."""
        raise NotImplementedError


class MemoryBackend(Backend):
    name = "memory"

    def new_bus(self) -> Bus:
        return MemoryBus(partitions=PARTITIONS)

    async def reopen(self, bus: Bus) -> Bus:
        await bus.stop()
        return bus  # same bus: records and offsets live in it; the caller resubscribes

    async def settle(self, bus: Bus, groups: Sequence[str], topics: Sequence[str], seen: Sequence[Record]) -> None:
        assert isinstance(bus, MemoryBus)
        await bus.drained(timeout=15)


class KafkaBackend(Backend):
    name = "kafka"

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def new_bus(self) -> Bus:
        return KafkaBus(
            self.bootstrap,
            client_id=unique("test"),
            idempotence=False,
            partitions=PARTITIONS,
            session_timeout_ms=2000,  # Tansu delays each group join by half of it
        )

    async def reopen(self, bus: Bus) -> Bus:
        await bus.stop()
        return self.new_bus()

    async def settle(self, bus: Bus, groups: Sequence[str], topics: Sequence[str], seen: Sequence[Record]) -> None:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        # Tansu's ListOffsets(latest) answers "base offset of the last batch + 1", which is short
        # when the last produce batch held several records: also count what the test received.
        received_ends: dict[TopicPartition, int] = defaultdict(int)
        for r in seen:
            tp = TopicPartition(r.topic, r.partition)
            received_ends[tp] = max(received_ends[tp], r.offset + 1)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        probe = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await admin.start()
        await probe.start()
        try:
            deadline = time.monotonic() + 15
            while True:
                reported = await probe.end_offsets(tps)
                ends = {tp: max(reported[tp], received_ends[tp]) for tp in tps}
                lagging = []
                for group in groups:
                    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
                    for tp in tps:
                        c = committed.get(tp)
                        if (c.offset if c is not None and c.offset >= 0 else 0) < ends[tp]:
                            lagging.append((group, tp))
                if not lagging:
                    return
                if time.monotonic() > deadline:
                    raise AssertionError(f"groups not settled: {lagging}")
                await asyncio.sleep(0.02)
        finally:
            await probe.stop()
            await admin.close()


@pytest.fixture(params=["memory", "kafka"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "kafka":
        broker: TansuBroker = request.getfixturevalue("tansu_broker")
        return KafkaBackend(broker.bootstrap)
    return MemoryBackend()


@pytest_asyncio.fixture
async def buses() -> AsyncIterator[list[Bus]]:
    """Buses a test registers here are stopped at teardown."""
    created: list[Bus] = []
    yield created
    for bus in created:
        await bus.stop()


@pytest.fixture
def new_bus(backend: Backend, buses: list[Bus]) -> Callable[[], Bus]:
    def make() -> Bus:
        bus = backend.new_bus()
        buses.append(bus)
        return bus

    return make


def records(topic: str, n: int, keys: int | None = None, prefix: str = "v") -> list[Record]:
    """``n`` records; with ``keys``, record i has key ``k<i % keys>``; value ``<prefix><i>``."""
    return [
        Record(
            topic=topic,
            value=f"{prefix}{i}".encode(),
            key=f"k{i % keys}".encode() if keys else None,
        )
        for i in range(n)
    ]


def by_key(received: Sequence[Record]) -> dict[bytes | None, list[bytes]]:
    out: dict[bytes | None, list[bytes]] = defaultdict(list)
    for r in received:
        out[r.key].append(r.value)
    return out


# -- the contract ----------------------------------------------------------------------------


async def test_round_trip_keeps_value_key_and_headers(new_bus: Callable[[], Bus]) -> None:
    topic, group = unique("t"), unique("g")
    bus = new_bus()
    got = Collector()
    bus.subscribe(Subscription([topic], group=group, handler=got))
    await bus.start()
    headers = (("ce_type", b"meridian.test.v1.Thing"), ("traceparent", b"00-abc-def-01"), ("empty", b""))
    await bus.publish(
        [
            Record(topic=topic, value=b'{"a":1}', key=b"conv-1", headers=headers),
            Record(topic=topic, value=b"keyless"),
        ]
    )
    await wait_until(lambda: len(got.records) == 2, what="two records")

    keyed = next(r for r in got.records if r.key == b"conv-1")
    assert keyed.topic == topic
    assert keyed.value == b'{"a":1}'
    assert keyed.headers == headers
    assert keyed.header("ce_type") == b"meridian.test.v1.Thing"
    assert keyed.header("missing") is None
    # both buses pick the partition with Kafka's murmur2, so a key lands on the same partition
    assert keyed.partition == partition_for(b"conv-1", PARTITIONS)
    assert keyed.offset == 0
    assert keyed.timestamp_ms > 0
    keyless = next(r for r in got.records if r.key is None)
    assert keyless.value == b"keyless"
    assert keyless.headers == ()
    assert await bus.ping() is True


async def test_per_key_order_across_many_keys(new_bus: Callable[[], Bus], backend: Backend) -> None:
    topic, group = unique("t"), unique("g")
    bus = new_bus()
    got = Collector()
    bus.subscribe(Subscription([topic], group=group, handler=got, max_batch=7))
    await bus.start()
    sent = records(topic, 200, keys=20)
    for i in range(0, 200, 25):  # several publish calls, some while the consumer is busy
        await bus.publish(sent[i : i + 25])
    await wait_until(lambda: len(got.records) >= 200, what="200 records")
    await backend.settle(bus, [group], [topic], got.records)

    assert all(len(b) <= 7 for b in got.batches)
    assert by_key(got.records) == by_key(sent)
    assert len(got.records) == 200


async def test_each_group_receives_everything(new_bus: Callable[[], Bus], backend: Backend) -> None:
    topic, g1, g2 = unique("t"), unique("g"), unique("g")
    bus = new_bus()
    a, b = Collector(), Collector()
    bus.subscribe(Subscription([topic], group=g1, handler=a))
    bus.subscribe(Subscription([topic], group=g2, handler=b))
    await bus.start()
    sent = records(topic, 100, keys=10)
    await bus.publish(sent)
    await wait_until(lambda: len(a.records) >= 100 and len(b.records) >= 100, what="both groups")
    await backend.settle(bus, [g1, g2], [topic], a.records + b.records)

    assert sorted(a.values()) == sorted(r.value for r in sent)
    assert sorted(b.values()) == sorted(r.value for r in sent)


async def test_one_group_splits_partitions_without_duplicates(new_bus: Callable[[], Bus], backend: Backend) -> None:
    topic, group = unique("t"), unique("g")
    bus = new_bus()
    a, b = Collector(), Collector()
    bus.subscribe(Subscription([topic], group=group, handler=a, name="a"))
    bus.subscribe(Subscription([topic], group=group, handler=b, name="b"))
    await bus.start()

    # Kafka assigns partitions asynchronously: warm up until both members own partitions (a
    # rebalance may legitimately redeliver warm-up records; they are not checked).
    warmups = 0

    def both_active() -> bool:
        return any(r.value.startswith(b"w") for r in a.records) and any(r.value.startswith(b"w") for r in b.records)

    deadline = time.monotonic() + 20
    while not both_active():
        assert time.monotonic() < deadline, "both members never received records"
        await bus.publish(records(topic, 16, keys=16, prefix=f"w{warmups}-"))
        warmups += 1
        for _ in range(10):  # give this round 200 ms before publishing the next
            if both_active():
                break
            await asyncio.sleep(0.02)

    sent = records(topic, 200, keys=40)
    await bus.publish(sent)

    def real(c: Collector) -> list[bytes]:
        return [v for v in c.values() if v.startswith(b"v")]

    await wait_until(lambda: len(real(a)) + len(real(b)) >= 200, what="200 records")
    await backend.settle(bus, [group], [topic], a.records + b.records)

    assert real(a) and real(b), "both members got work"
    assert sorted(real(a) + real(b)) == sorted(r.value for r in sent)
    # a key (its partition) belongs to one member
    assert not {r.key for r in a.records if r.value.startswith(b"v")} & {
        r.key for r in b.records if r.value.startswith(b"v")
    }


async def test_failed_batches_are_redelivered_and_nothing_is_lost(new_bus: Callable[[], Bus], backend: Backend) -> None:
    topic, group = unique("t"), unique("g")
    bus = new_bus()
    got = Collector(fail_first=3)
    bus.subscribe(Subscription([topic], group=group, handler=got, max_batch=10))
    sent = records(topic, 60, keys=6)
    await bus.publish(sent)
    await bus.start()
    await wait_until(lambda: len({r.value for r in got.records}) >= 60, what="60 records")
    await backend.settle(bus, [group], [topic], got.records)

    assert len(got.failed) == 3
    delivered = {(r.partition, r.offset): r for r in got.records}
    for batch in got.failed:
        for r in batch:  # every record of a failed batch came again, unchanged
            assert delivered[(r.partition, r.offset)] == r
    # at-least-once: nothing lost, and per-key order holds among the successful deliveries
    assert {r.value for r in got.records} == {r.value for r in sent}
    for key, values in by_key(got.records).items():
        expected = by_key(sent)[key]
        deduped = list(dict.fromkeys(values))
        assert deduped == expected, key


async def test_committed_records_are_not_redelivered_after_restart(
    new_bus: Callable[[], Bus], backend: Backend, buses: list[Bus]
) -> None:
    topic, group = unique("t"), unique("g")
    keys = 40
    # precondition for "nothing old arrives": the new records touch every partition
    assert {partition_for(f"k{i}".encode(), PARTITIONS) for i in range(keys)} == set(range(PARTITIONS))

    bus = new_bus()
    first = Collector()
    bus.subscribe(Subscription([topic], group=group, handler=first))
    await bus.start()
    old = records(topic, 50, keys=keys, prefix="old")
    await bus.publish(old)
    await wait_until(lambda: len(first.records) >= 50, what="first 50")
    await backend.settle(bus, [group], [topic], first.records)

    bus2 = await backend.reopen(bus)
    if bus2 is not bus:
        buses.append(bus2)
    second = Collector()
    bus2.subscribe(Subscription([topic], group=group, handler=second))
    await bus2.start()
    new = records(topic, 40, keys=keys, prefix="new")
    await bus2.publish(new)
    await wait_until(lambda: len(second.records) >= 40, what="40 new records")
    await backend.settle(bus2, [group], [topic], first.records + second.records)

    assert sorted(second.values()) == sorted(r.value for r in new)
    assert len(first.records) == 50


async def test_from_latest_skips_history(new_bus: Callable[[], Bus], backend: Backend) -> None:
    topic, group = unique("t"), unique("g")
    bus = new_bus()
    # One record per publish: Tansu's "latest" offset is wrong after a multi-record batch (see
    # KafkaBackend.settle), which would make a from_latest group start inside the last batch.
    for r in records(topic, 20, keys=5, prefix="old"):
        await bus.publish([r])
    got = Collector()
    bus.subscribe(Subscription([topic], group=group, handler=got, from_latest=True))
    await bus.start()

    # Kafka resolves "latest" when the partitions are assigned: probe until the consumer is live.
    probes = 0
    deadline = time.monotonic() + 20
    while not got.records:
        assert time.monotonic() < deadline, "from_latest consumer never received anything"
        await bus.publish([Record(topic=topic, value=f"probe{probes}".encode(), key=b"k0")])
        probes += 1
        for _ in range(10):
            if got.records:
                break
            await asyncio.sleep(0.02)
    new = records(topic, 20, keys=5, prefix="new")
    await bus.publish(new)
    await wait_until(lambda: sum(v.startswith(b"new") for v in got.values()) >= 20, what="new records")
    await backend.settle(bus, [group], [topic], got.records)

    assert not [v for v in got.values() if v.startswith(b"old")]
    assert sorted(v for v in got.values() if v.startswith(b"new")) == sorted(r.value for r in new)


async def test_large_batch_arrives_complete(new_bus: Callable[[], Bus], backend: Backend) -> None:
    topic, group = unique("t"), unique("g")
    bus = new_bus()
    got = Collector()
    bus.subscribe(Subscription([topic], group=group, handler=got, max_batch=500))
    await bus.start()
    sent = records(topic, 2000, keys=100)
    await bus.publish(sent)
    await wait_until(lambda: len(got.records) >= 2000, what="2000 records")
    await backend.settle(bus, [group], [topic], got.records)

    assert len(got.records) == 2000
    assert by_key(got.records) == by_key(sent)
    assert max(len(b) for b in got.batches) <= 500


# -- MemoryBus only --------------------------------------------------------------------------


async def test_memory_drained_times_out_while_a_handler_keeps_failing() -> None:
    bus = MemoryBus()
    got = Collector(fail_first=1_000_000)
    bus.subscribe(Subscription(["t"], group="g", handler=got))
    await bus.start()
    try:
        await bus.publish(records("t", 3))
        with pytest.raises(TimeoutError):
            await bus.drained(timeout=0.3)
        assert got.calls >= 2  # redelivered with backoff
    finally:
        await bus.stop()


async def test_memory_trims_records_every_group_committed() -> None:
    bus = MemoryBus(partitions=1, retention=10)
    a, b = Collector(), Collector()
    bus.subscribe(Subscription(["t"], group="a", handler=a))
    await bus.start()
    try:
        for i in range(10):
            await bus.publish(records("t", 10, prefix=f"{i}-"))
            await bus.drained()
        assert 10 <= len(bus.records("t")) <= 30  # bounded, not 100
        bus.subscribe(Subscription(["t"], group="b", handler=b))  # new group: from the log start
        await bus.drained()
        assert sorted(b.values()) == sorted(r.value for r in bus.records("t"))  # what was retained
        assert bus.trim() > 0
        assert bus.records("t") == []
        await bus.publish(records("t", 5, prefix="late-"))
        await bus.drained()
        assert [r.value for r in a.records][-5:] == [f"late-{i}".encode() for i in range(5)]
        assert [r.offset for r in a.records] == list(range(105))
    finally:
        await bus.stop()


# -- KafkaBus only ---------------------------------------------------------------------------


@pytest_asyncio.fixture
async def own_broker() -> AsyncIterator[TansuBroker]:
    broker = TansuBroker()
    await asyncio.to_thread(broker.start)
    yield broker
    await asyncio.to_thread(broker.close)


async def test_kafka_survives_a_broker_outage(own_broker: TansuBroker) -> None:
    topic, group = unique("t"), unique("g")
    bus = KafkaBus(
        own_broker.bootstrap,
        client_id="outage",
        idempotence=False,
        publish_timeout=2.0,
        session_timeout_ms=2000,
    )
    got = Collector()
    bus.subscribe(Subscription([topic], group=group, handler=got))
    await bus.start()
    try:
        await bus.publish([Record(topic=topic, value=b"before", key=b"k")])
        await wait_until(lambda: b"before" in got.values(), what="record before the outage")
        # its offset commit done before the broker goes: a commit still in flight would be retried
        # on the restarted broker, whose log starts again at 0, and that consumer would skip "after"
        await KafkaBackend(own_broker.bootstrap).settle(bus, [group], [topic], got.records)
        assert await bus.ping()

        await asyncio.to_thread(own_broker.stop)
        started = time.monotonic()
        with pytest.raises(BusUnavailable):
            await bus.publish([Record(topic=topic, value=b"during", key=b"k")])
        assert time.monotonic() - started < 5
        assert await bus.ping() is False

        await asyncio.to_thread(own_broker.start)  # memory-only: topics and offsets are gone
        deadline = time.monotonic() + 20
        while True:
            try:
                await bus.publish([Record(topic=topic, value=b"after", key=b"k")])
                break
            except BusUnavailable:
                assert time.monotonic() < deadline, "publish never recovered"
                await asyncio.sleep(0.1)
        await wait_until(lambda: b"after" in got.values(), within=30, what="record after restart")
        assert await bus.ping()
    finally:
        await bus.stop()


async def test_kafka_keys_land_where_a_plain_producer_puts_them(tansu_broker: TansuBroker) -> None:
    """The bus builds its own batches per partition: a key must still go to the partition that
    AIOKafkaProducer.send (murmur2, as Java clients) picks, so other producers' records of the same
    key stay in order with ours."""
    from aiokafka import AIOKafkaProducer

    topic, keys = unique("t"), [f"key-{i}".encode() for i in range(40)]
    bus = KafkaBus(tansu_broker.bootstrap, client_id="partitions", idempotence=False)
    await bus.start()
    plain = AIOKafkaProducer(bootstrap_servers=tansu_broker.bootstrap, enable_idempotence=False)
    await plain.start()
    try:
        await bus.publish([Record(topic=topic, value=b"bus", key=k) for k in keys])
        expected = {k: (await (await plain.send(topic, b"plain", key=k))).partition for k in keys}
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=tansu_broker.bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            seen: dict[bytes, int] = {}
            deadline = time.monotonic() + 15
            while len(seen) < len(keys) and time.monotonic() < deadline:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    seen.update({r.key: r.partition for r in batch if r.value == b"bus"})
        finally:
            await consumer.stop()
        assert seen == expected and len(set(expected.values())) > 1
    finally:
        await plain.stop()
        await bus.stop()


async def test_kafka_records_beyond_one_batch_go_in_the_next_ones_in_order(tansu_broker: TansuBroker) -> None:
    """A publish whose records of one partition overflow the producer's batch (16 KiB) sends them
    in several batches, in their order."""
    topic, group = unique("t"), unique("g")
    bus = KafkaBus(tansu_broker.bootstrap, client_id="batches", idempotence=False, session_timeout_ms=2000)
    got = Collector()
    bus.subscribe(Subscription([topic], group=group, handler=got))
    await bus.start()
    try:
        values = [bytes([i]) * 6000 for i in range(7)]  # two fit in a batch, not three
        await bus.publish([Record(topic=topic, value=v, key=b"one-key") for v in values])
        await wait_until(lambda: len(got.values()) == len(values), what="all records")
        assert got.values() == values
    finally:
        await bus.stop()
