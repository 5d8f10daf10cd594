"""The push group forwards fresh events to the fan-out and skips stale history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1
from meridian.events.envelope import new_meta
from meridian_gateway.consumers import push_subscription


class RecordingFanout:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    async def publish(self, frames: list[tuple[str, dict]]) -> None:
        self.published.append(frames)


async def test_fresh_events_are_pushed_and_old_ones_are_not():
    fanout = RecordingFanout()
    sub = push_subscription(fanout, max_age=300)
    assert sub.from_latest is False  # a latest start would skip events published while joining the group
    handler = sub.handlers[tickets_v1.TicketAssigned]
    event = tickets_v1.TicketAssigned(ticket_id="t", conversation_id="c", assignee_agent_id="a")
    meta = new_meta(event, tenant_id="tenant-1", source="ticket", key="c")
    results = [await handler(event, meta),
               await handler(event, meta._replace(occurred_at=datetime.now(UTC) - timedelta(minutes=10))),
               await handler(event, meta._replace(tenant_id="tenant-2"))]
    assert fanout.published == []                       # nothing sent until the batch is through
    assert results[1] is None                           # too old to push
    await sub.after_batch([r for r in results if r is not None])
    assert [[(t, f["type"]) for t, f in frames] for frames in fanout.published] == [
        [("tenant-1", "ticket.assigned"), ("tenant-2", "ticket.assigned")]]
    await sub.after_batch([])                           # nothing to push: nothing sent
    assert len(fanout.published) == 1
