"""Subscriptions without a DB: after_batch gets what the batch's handlers returned, and only theirs;
a batch that hits a deadlock is retried whole, and the deadlock is logged."""

from __future__ import annotations

import logging

from meridian.bus.base import Record
from meridian.bus.consumer import EventConsumer, EventSubscription
from meridian.bus.memory import MemoryBus
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.events.envelope import new_meta, to_record


def _records(*texts: str) -> list[Record]:
    out = []
    for i, text in enumerate(texts):
        msg = messages_v1.MessageThreaded(message_id=f"m{i}", conversation_id="c1", text=text)
        r = to_record("ticket.messages.v1", msg, new_meta(msg, tenant_id="t1", source="test", key="c1"))
        out.append(Record(topic=r.topic, key=r.key, value=r.value, headers=r.headers, partition=0, offset=i))
    return out


async def test_after_batch_gets_the_results_of_the_batch_that_succeeded_only():
    sent: list[list[str]] = []

    async def handler(message, meta):  # noqa: ANN001
        if message.text == "poison":
            raise ValueError("cannot handle")
        return None if message.text == "skip" else message.message_id

    async def after_batch(results: list[str]) -> None:
        sent.append(results)

    sub = EventSubscription(topics=["ticket.messages.v1"], group="push", uses_db=False, after_batch=after_batch,
                            handlers={messages_v1.MessageThreaded: handler})
    consumer = EventConsumer(sub, MemoryBus(), None, max_attempts=2, base_backoff=0.001)
    await consumer.handle_batch(_records("a", "skip", "b"))
    assert sent == [["m0", "m2"]]                      # one call for the batch, None left out
    sent.clear()
    await consumer.handle_batch(_records("a", "b", "poison", "c"))
    # the batch failed at its third event: retried one by one, each event's result sent on its own,
    # and nothing the failed attempt produced is sent again
    assert sent == [["m0"], ["m1"], ["m3"]]


class _Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_batch_that_hits_a_deadlock_is_retried_whole_and_the_deadlock_is_logged(caplog):
    sent: list[list[str]] = []
    failures = [_Deadlock("deadlock detected")]

    async def handler(message, meta):  # noqa: ANN001
        if message.text == "b" and failures:
            raise failures.pop()
        return message.message_id

    async def after_batch(results: list[str]) -> None:
        sent.append(results)

    sub = EventSubscription(topics=["ticket.messages.v1"], group="push", uses_db=False, after_batch=after_batch,
                            handlers={messages_v1.MessageThreaded: handler})
    consumer = EventConsumer(sub, MemoryBus(), None, max_attempts=2, base_backoff=0.001)
    with caplog.at_level(logging.WARNING, logger="meridian.consumer"):
        await consumer.handle_batch(_records("a", "b"))
    assert sent == [["m0", "m1"]]                      # the second attempt, whole
    [warning] = [r for r in caplog.records if "deadlock" in r.getMessage()]
    assert (warning.group, warning.attempt) == ("push", 1) and "deadlock detected" in warning.error
