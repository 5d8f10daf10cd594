"""KafkaBus's consumers: a refused offset commit is dropped and consuming goes on; a hanging one
rebuilds the consumer; fetches wait as configured."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from meridian.bus import kafka
from meridian.bus.base import Subscription
from meridian.bus.consumer import EventConsumer
from meridian.bus.kafka import CommitStuck, KafkaBus, _Consumer
from meridian.bus.memory import MemoryBus

from tests.support.waiting import wait_until

TOPIC = "ticket.messages.v1"


class HangingCommit:
    """getmany() hands out one record; commit() never returns (as aiokafka retrying forever)."""

    def __init__(self) -> None:
        self.fetches = 0

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        self.fetches += 1
        if self.fetches > 1:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        tp = TopicPartition("ticket.messages.v1", 0)
        record = ConsumerRecord("ticket.messages.v1", 0, 7, 0, 0, b"k", b"v", None, 1, 1, [])
        return {tp: [record]}

    async def commit(self, offsets: dict) -> None:
        await asyncio.Event().wait()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        raise AssertionError("the handler succeeded: nothing to seek")


async def test_a_hanging_offset_commit_ends_the_consume_loop_so_the_consumer_is_rebuilt(monkeypatch):
    monkeypatch.setattr(kafka, "COMMIT_TIMEOUT", 0.2)
    handled: list[int] = []
    runner = _runner(handled)
    with pytest.raises(CommitStuck):
        await asyncio.wait_for(runner._consume(HangingCommit()), 5)
    assert handled == [7]


def test_consumers_fetch_with_the_configured_wait():
    """Tansu holds an empty fetch for about half the max wait, so it bounds each bus hop's latency."""
    sub = Subscription(topics=["ticket.messages.v1"], group="g", handler=lambda records: None)
    assert KafkaBus("127.0.0.1:9", client_id="t")._consumer_options(sub)["fetch_max_wait_ms"] == 20
    assert KafkaBus("127.0.0.1:9", client_id="t", fetch_max_wait_ms=500)._consumer_options(sub)[
        "fetch_max_wait_ms"] == 500


def test_background_consumers_poll_less_but_never_more_often_than_the_others():
    """Subscriptions off the message's path (audit, delivery reports, assignments) poll Tansu less:
    every poll of an idle consumer costs the broker and the client CPU."""
    background = Subscription(topics=["compliance.audit.ticket.v1"], group="g", handler=lambda records: None,
                              background=True)
    assert KafkaBus("127.0.0.1:9", client_id="t")._consumer_options(background)["fetch_max_wait_ms"] == 250
    assert KafkaBus("127.0.0.1:9", client_id="t", background_fetch_max_wait_ms=100)._consumer_options(
        background)["fetch_max_wait_ms"] == 100
    assert KafkaBus("127.0.0.1:9", client_id="t", fetch_max_wait_ms=500)._consumer_options(background)[
        "fetch_max_wait_ms"] == 500                                 # Apache Kafka deployments: 500 for all


def test_the_subscriptions_off_the_message_path_are_background():
    from meridian_compliance.consumers import SUBSCRIPTIONS as compliance
    from meridian_routing.consumers import SUBSCRIPTIONS as routing
    from meridian_ticket.consumers import SUBSCRIPTIONS as ticket

    background = {s.group for s in [*compliance, *routing, *ticket] if s.background}
    assert background == {"compliance.audit", "routing.conversations", "ticket.assignments", "ticket.deliveries"}
    assert EventConsumer(compliance[0], MemoryBus(), lambda: None).subscription().background  # handed to the bus


class ScriptedConsumer:
    """getmany() hands out one record per call (offsets 0, 1, 2, …) until ``limit``; commit() records
    what it was asked to commit, and refuses the first (``refuse_first``) as after a rebalance."""

    def __init__(self, limit: int, refuse_first: bool = False) -> None:
        self.limit = limit
        self.refuse_first = refuse_first
        self.next_offset = 0
        self.commits: list[dict[TopicPartition, int]] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        await asyncio.sleep(0)  # a fetch lets other tasks run
        if self.next_offset >= self.limit:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        offset, self.next_offset = self.next_offset, self.next_offset + 1
        return {TopicPartition(TOPIC, 0): [ConsumerRecord(TOPIC, 0, offset, 0, 0, b"k", b"v", None, 1, 1, [])]}

    async def commit(self, offsets: dict) -> None:
        if self.refuse_first and not self.commits:
            self.commits.append({})
            raise CommitFailedError("the group rebalanced")
        self.commits.append(dict(offsets))


def _runner(handled: list[int]) -> _Consumer:
    async def handler(records):  # noqa: ANN001
        handled.extend(r.offset for r in records)

    return _Consumer(KafkaBus("127.0.0.1:9", client_id="test"), Subscription(topics=[TOPIC], group="g",
                                                                            handler=handler))


async def test_a_refused_commit_is_dropped_and_consuming_goes_on():
    fake, handled = ScriptedConsumer(limit=3, refuse_first=True), []
    runner = _runner(handled)
    consuming = asyncio.create_task(runner._consume(fake))
    try:
        await wait_until(lambda: handled == [0, 1, 2] and fake.commits[-1:] == [{TopicPartition(TOPIC, 0): 3}],
                         within=5, what="the later offsets committed")
        assert not consuming.done()
    finally:
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)


async def test_handled_offsets_are_committed_at_most_every_interval_and_when_idle():
    """Batches one after the other share commits; once nothing comes, the last one is committed."""
    fake, handled = ScriptedConsumer(limit=60), []
    runner = _runner(handled)
    consuming = asyncio.create_task(runner._consume(fake))
    try:
        await wait_until(lambda: handled == list(range(60)) and fake.commits[-1:] == [{TopicPartition(TOPIC, 0): 60}],
                         within=5, what="every record handled and committed")
        assert len(fake.commits) < 10, fake.commits      # 60 batches of one record
        assert [c[TopicPartition(TOPIC, 0)] for c in fake.commits] == sorted({c[TopicPartition(TOPIC, 0)]
                                                                              for c in fake.commits})
    finally:
        consuming.cancel()
        await asyncio.gather(consuming, return_exceptions=True)


async def test_what_was_handled_is_committed_when_the_consumer_stops_or_its_partitions_move(monkeypatch):
    class Fake(ScriptedConsumer):
        def __init__(self, **options: object) -> None:
            super().__init__(limit=3)
            made.append(self)

        def subscribe(self, topics: list, listener: object) -> None:
            self.listener = listener

        async def start(self) -> None:
            return None

        async def stop(self) -> None:
            return None

        async def getmany(self, timeout_ms: int, max_records: int) -> dict:
            while self.next_offset >= self.limit:
                await asyncio.sleep(0.01)       # nothing more yet: wait (for more, or the stop)
            return await super().getmany(timeout_ms, max_records)

    made: list[Fake] = []
    monkeypatch.setattr(kafka, "AIOKafkaConsumer", Fake)
    monkeypatch.setattr(kafka, "COMMIT_INTERVAL", 60.0)   # no commit while records come
    handled: list[int] = []
    runner = _runner(handled)
    runner._bus.ensure_topics = _no_topics
    runner.start()
    await wait_until(lambda: handled == [0, 1, 2], within=5, what="three records")
    [fake] = made
    assert fake.commits == [{TopicPartition(TOPIC, 0): 1}]    # the first batch, then the interval holds
    await fake.listener.on_partitions_revoked({TopicPartition(TOPIC, 0)})
    assert fake.commits[-1] == {TopicPartition(TOPIC, 0): 3}
    fake.limit = 5
    fake.next_offset = 3
    await wait_until(lambda: handled == [0, 1, 2, 3, 4], within=5, what="two more")
    await runner.stop(grace=1)
    assert fake.commits[-1] == {TopicPartition(TOPIC, 0): 5}


async def _no_topics(topics) -> None:  # noqa: ANN001
    return None
