"""The ``gateway.push`` group: ticket and routing events → WebSocket frames → the fan-out.

The group is shared by every gateway process (each event is fanned out once; with Redis, every
process delivers it to its own connections). It needs no database: a lost push is recovered by the
client's REST reads. The group starts at the earliest offset — a "latest" start would skip every
event published while a new gateway is still joining the group — and events older than
``max_age`` seconds are not pushed, so a first start does not flood clients with history.
"""

from __future__ import annotations

from datetime import UTC, datetime

from meridian.bus.consumer import EventSubscription
from meridian.contracts.routing import agents_v1_pb2 as agents_v1
from meridian.contracts.ticket import conversations_v1_pb2 as conversations_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1
from meridian.events.envelope import EventMeta

from meridian_gateway.contracts import FRAMES, ws_frame
from meridian_gateway.fanout import Fanout

TOPICS = ["ticket.messages.v1", "ticket.conversations.v1", "ticket.tickets.v1", "routing.agents.v1"]
PUSHED = (messages_v1.MessageCreated, messages_v1.MessageUpdated, conversations_v1.ConversationOpened,
          conversations_v1.ConversationUpdated, tickets_v1.TicketAssigned, agents_v1.AgentPresenceChanged)
assert set(PUSHED) == set(FRAMES)


def push_subscription(fanout: Fanout, max_age: float) -> EventSubscription:
    """Each handler turns its event into a (tenant id, frame) pair; the batch's pairs go to the
    fan-out in one call after the last handler (with Redis: one round trip per batch instead of one
    per frame). A batch that fails is retried one event at a time, each then published on its own."""

    async def on_event(message, meta: EventMeta) -> tuple[str, dict] | None:  # noqa: ANN001
        if not meta.tenant_id or (datetime.now(UTC) - meta.occurred_at).total_seconds() > max_age:
            return None
        frame = ws_frame(str(meta.id), message)
        return (meta.tenant_id, frame) if frame is not None else None

    async def publish(frames: list[tuple[str, dict]]) -> None:
        if frames:
            await fanout.publish(frames)

    return EventSubscription(topics=TOPICS, group="gateway.push", handlers={cls: on_event for cls in PUSHED},
                             uses_db=False, after_batch=publish)
