"""KafkaBus's consumers: a hanging offset commit rebuilds the consumer; fetches wait as configured."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from meridian.bus import kafka
from meridian.bus.base import Subscription
from meridian.bus.kafka import CommitStuck, KafkaBus, _Consumer


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
    handled = []

    async def handler(records):  # noqa: ANN001
        handled.extend(r.offset for r in records)

    runner = _Consumer(KafkaBus("127.0.0.1:9", client_id="test"), Subscription(topics=["ticket.messages.v1"], group="g",
                                                            handler=handler))
    with pytest.raises(CommitStuck):
        await asyncio.wait_for(runner._consume(HangingCommit()), 5)
    assert handled == [7]


def test_consumers_fetch_with_the_configured_wait():
    """Tansu holds every fetch for the full max wait, so it bounds each bus hop's latency."""
    sub = Subscription(topics=["ticket.messages.v1"], group="g", handler=lambda records: None)
    assert KafkaBus("127.0.0.1:9", client_id="t")._consumer_options(sub)["fetch_max_wait_ms"] == 50
    assert KafkaBus("127.0.0.1:9", client_id="t", fetch_max_wait_ms=500)._consumer_options(sub)[
        "fetch_max_wait_ms"] == 500
