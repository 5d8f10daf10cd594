"""EventSubscription.prepare: once per transaction, before the handlers, with the new events only."""

from __future__ import annotations

from meridian.bus.base import Record
from meridian.bus.consumer import EventConsumer, EventSubscription
from meridian.bus.memory import MemoryBus
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.events.envelope import new_meta, to_record


class FakeUow:
    """Claims each event id once, like the processed-events table; records the call order."""

    def __init__(self, log: list, claimed: set) -> None:
        self.log = log
        self.claimed = claimed
        self.cause = None

    async def __aenter__(self) -> FakeUow:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def claim_many(self, group: str, ids: list) -> set:
        fresh = {i for i in ids if i not in self.claimed}
        self.claimed.update(fresh)
        return fresh

    async def commit(self) -> None:
        self.log.append("commit")


def record(message_id: str, offset: int, meta=None) -> tuple[Record, object]:  # noqa: ANN001
    msg = messages_v1.MessageThreaded(message_id=message_id, conversation_id="c1", text="hi")
    meta = meta or new_meta(msg, tenant_id="t1", source="test", key="c1")
    r = to_record("ticket.messages.v1", msg, meta)
    return Record(topic=r.topic, key=r.key, value=r.value, headers=r.headers, partition=0, offset=offset), meta


async def test_prepare_sees_the_new_events_of_the_batch_once_before_any_handler():
    log: list = []
    claimed: set = set()

    async def prepare(events, uow):  # noqa: ANN001
        log.append(("prepare", [m.message_id for m, _ in events]))

    async def handler(message, meta, uow):  # noqa: ANN001
        log.append(("handle", message.message_id))

    sub = EventSubscription(topics=["ticket.messages.v1"], group="g", prepare=prepare,
                            handlers={messages_v1.MessageThreaded: handler})
    consumer = EventConsumer(sub, MemoryBus(), lambda: FakeUow(log, claimed))
    old, old_meta = record("m0", 0)
    claimed.add(old_meta.id)                                   # processed in an earlier batch
    first, first_meta = record("m1", 1)
    again, _ = record("m1", 2, first_meta)                     # the same event twice in this batch
    second, _ = record("m2", 3)
    await consumer.handle_batch([old, first, again, second])
    assert log == [("prepare", ["m1", "m2"]), ("handle", "m1"), ("handle", "m2"), "commit"]


async def test_known_types_the_group_does_not_handle_are_skipped_unknown_ones_dead_lettered():
    """A shared topic carries types a group has no handler for: skipped without decoding (even a
    broken payload); an unknown type is still dead-lettered with its reason."""
    log: list = []
    handled: list = []

    async def handler(message, meta, uow):  # noqa: ANN001
        handled.append(message.message_id)

    bus = MemoryBus()
    sub = EventSubscription(topics=["ticket.messages.v1"], group="g2", handlers={messages_v1.MessageThreaded: handler})
    consumer = EventConsumer(sub, bus, lambda: FakeUow(log, set()))
    wanted, _ = record("m1", 0)
    created = messages_v1.MessageCreated(message_id="x")
    r = to_record("ticket.messages.v1", created, new_meta(created, tenant_id="t1", source="test", key="c1"))
    other = Record(topic=r.topic, key=r.key, value=b"\xff not protobuf", headers=r.headers, partition=0, offset=1)
    unknown = Record(topic=r.topic, key=r.key, value=b"", partition=0, offset=2,
                     headers=tuple((k, b"meridian.ticket.v1.Unheard" if k == "ce_type" else v) for k, v in r.headers))
    await bus.start()
    await consumer.handle_batch([wanted, other, unknown])
    assert handled == ["m1"]
    [dead] = bus.records("g2.dlq")
    assert dead.header("x-original-offset") == b"2" and b"unknown event type" in dead.header("x-dlq-reason")
    await bus.stop()
