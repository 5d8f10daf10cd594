"""The in-memory bus wakes only the consumers a change concerns: a record on a topic wakes the
groups reading that topic, not every consumer of the process (the embedded runtime runs a dozen
groups on one event loop, and each needless wake-up is a task step)."""

from __future__ import annotations

import asyncio

from meridian.bus.base import Record, Subscription
from meridian.bus.memory import MemoryBus


async def test_a_record_wakes_only_the_groups_reading_its_topic():
    bus = MemoryBus(partitions=2)
    handled: dict[str, list[bytes]] = {"orders": [], "audit": []}
    wake_ups: dict[str, int] = {"orders": 0, "audit": 0}

    def subscription(group: str, topic: str) -> Subscription:
        async def handler(records: list[Record]) -> None:
            handled[group].extend(r.value for r in records)
        return Subscription(topics=[topic], group=group, handler=handler)

    bus.subscribe(subscription("orders", "shop.orders"))
    bus.subscribe(subscription("audit", "shop.audit"))
    await bus.start()
    members = {g.name: g.members[0] for g in bus._groups.values()}
    await asyncio.sleep(0)  # both members are asleep now
    for name, member in members.items():  # count the wake-ups from here on
        event = member.wake
        original = event.set

        def counted(name: str = name, original=original) -> None:  # noqa: ANN001
            wake_ups[name] += 1
            original()

        event.set = counted
    try:
        for i in range(20):
            await bus.publish([Record(topic="shop.orders", key=f"k{i}".encode(), value=f"o{i}".encode())])
        await bus.drained()
        assert len(handled["orders"]) == 20
        assert handled["audit"] == []
        assert wake_ups["audit"] == 0
        assert 1 <= wake_ups["orders"] <= 20
        await bus.publish([Record(topic="shop.audit", key=b"a", value=b"a0")])
        await bus.drained()
        assert handled["audit"] == [b"a0"] and wake_ups["audit"] == 1
    finally:
        await bus.stop()
