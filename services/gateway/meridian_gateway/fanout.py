"""WebSocket fan-out: frames of a tenant reach every connection of that tenant, on any gateway process.

``MemoryFanout`` (embedded mode, one process) keeps a small ring per tenant for resume.
``RedisFanout`` (``MERIDIAN_REDIS_URL`` set) appends each frame to the capped stream
``meridian:ws:stream:<tenant_id>`` (``XADD MAXLEN ~ N``) for resume and publishes a batch's frames of a
tenant as one pub/sub message on ``meridian:ws:<tenant_id>`` (lines ``<event id>`` and ``<frame>``,
alternating; a frame's JSON has no raw newline), all in one pipelined round trip; every gateway
process listens to ``meridian:ws:*`` and delivers to its local connections. The Kafka group
``gateway.push`` is shared, so each event is fanned out once.

A frame travels as its JSON text (encoded once). Each connection has a bounded queue: a client too
slow to keep up is marked overflowed (its connection is then closed) and never blocks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

import orjson

log = logging.getLogger("meridian.gateway.fanout")

CHANNEL_PREFIX = "meridian:ws:"
# frames delivered between two yields to the event loop: the connections' send loops (tasks on the
# same loop) drain their queues in between, so a batch larger than a connection's queue does not cut
# off a client that reads
YIELD_EVERY = 100
STREAM_PREFIX = "meridian:ws:stream:"


def channel(tenant_id: str) -> str:
    return f"{CHANNEL_PREFIX}{tenant_id}"


def stream(tenant_id: str) -> str:
    return f"{STREAM_PREFIX}{tenant_id}"


def encode(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()  # compact, non-ASCII as UTF-8


class Subscriber:
    """One WebSocket connection's queue of (event id, frame text)."""

    __slots__ = ("tenant_id", "queue", "overflowed")

    def __init__(self, tenant_id: str, maxsize: int) -> None:
        self.tenant_id = tenant_id
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = asyncio.Event()

    def offer(self, event_id: str, text: str) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait((event_id, text))
        except asyncio.QueueFull:
            self.overflowed.set()


def after(entries: Iterable[tuple[str, str]], last_event_id: str | None) -> list[tuple[str, str]]:
    """Entries newer than ``last_event_id``: those after it when it is retained; otherwise those with a
    larger id (event ids are UUIDv7, time-ordered), or nothing when it is not a UUID."""
    items = list(entries)
    if not last_event_id:
        return []
    for i, (eid, _) in enumerate(items):
        if eid == last_event_id:
            return items[i + 1:]
    try:
        last = uuid.UUID(last_event_id)
    except ValueError:
        return []
    out = []
    for eid, text in items:
        try:
            if uuid.UUID(eid) > last:
                out.append((eid, text))
        except ValueError:
            continue
    return out


class _Local:
    """Connections of this process, by tenant."""

    def __init__(self) -> None:
        self.by_tenant: dict[str, set[Subscriber]] = {}

    def add(self, sub: Subscriber) -> None:
        self.by_tenant.setdefault(sub.tenant_id, set()).add(sub)

    def remove(self, sub: Subscriber) -> None:
        subs = self.by_tenant.get(sub.tenant_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.by_tenant[sub.tenant_id]

    async def deliver(self, frames: Iterable[tuple[str, str, str]]) -> None:
        """(tenant id, event id, frame text) triples, in order."""
        for n, (tenant_id, event_id, text) in enumerate(frames, 1):
            for sub in tuple(self.by_tenant.get(tenant_id, ())):
                sub.offer(event_id, text)
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    def count(self) -> int:
        return sum(len(s) for s in self.by_tenant.values())


class MemoryFanout:
    def __init__(self, *, replay_size: int = 1000, queue_size: int = 1000) -> None:
        self._local = _Local()
        self._rings: dict[str, deque[tuple[str, str]]] = {}
        self._replay_size = replay_size
        self.queue_size = queue_size

    async def publish(self, frames: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Deliver (tenant id, frame) pairs, in order."""
        encoded = [(tenant_id, str(frame["id"]), encode(frame)) for tenant_id, frame in frames]
        for tenant_id, event_id, text in encoded:
            ring = self._rings.get(tenant_id)
            if ring is None:
                ring = self._rings[tenant_id] = deque(maxlen=self._replay_size)
            ring.append((event_id, text))
        await self._local.deliver(encoded)

    def subscribe(self, tenant_id: str) -> Subscriber:
        sub = Subscriber(tenant_id, self.queue_size)
        self._local.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._local.remove(sub)

    async def replay(self, tenant_id: str, last_event_id: str | None) -> list[tuple[str, str]]:
        return after(self._rings.get(tenant_id, ()), last_event_id)

    @property
    def connections(self) -> int:
        return self._local.count()

    async def run(self) -> None:  # nothing to listen to
        return None

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


class RedisFanout:
    def __init__(self, url: str, *, replay_size: int = 1000, queue_size: int = 1000) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
        self._local = _Local()
        self._replay_size = replay_size
        self.queue_size = queue_size
        self.listening = asyncio.Event()

    async def publish(self, frames: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Stream and publish (tenant id, frame) pairs, in order, in one round trip."""
        lines: dict[str, list[str]] = {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for tenant_id, frame in frames:
                event_id, text = str(frame["id"]), encode(frame)
                pipe.xadd(stream(tenant_id), {"id": event_id, "frame": text}, maxlen=self._replay_size,
                          approximate=True)
                lines.setdefault(tenant_id, []).extend((event_id, text))  # id first: no JSON parse on receipt
            for tenant_id, pairs in lines.items():
                pipe.publish(channel(tenant_id), "\n".join(pairs))
            await pipe.execute()

    def subscribe(self, tenant_id: str) -> Subscriber:
        sub = Subscriber(tenant_id, self.queue_size)
        self._local.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._local.remove(sub)

    async def replay(self, tenant_id: str, last_event_id: str | None) -> list[tuple[str, str]]:
        if not last_event_id:
            return []
        entries = await self._redis.xrange(stream(tenant_id), "-", "+")
        return after(((fields.get("id", ""), fields.get("frame", "")) for _, fields in entries), last_event_id)

    @property
    def connections(self) -> int:
        return self._local.count()

    async def run(self) -> None:
        """Listen to every tenant's channel and deliver to this process's connections (reconnects)."""
        delay = 0.2
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                self.listening.set()
                delay = 0.2
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None or msg.get("type") != "pmessage":
                        continue
                    name: str = msg["channel"]
                    tenant_id = name[len(CHANNEL_PREFIX):]
                    lines = msg["data"].split("\n")
                    await self._local.deliver((tenant_id, event_id, text)
                                              for event_id, text in zip(lines[::2], lines[1::2], strict=False))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("redis fan-out listener failed; reconnecting", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def ping(self) -> bool:
        return bool(await self._redis.ping())

    async def close(self) -> None:
        await self._redis.aclose()


Fanout = MemoryFanout | RedisFanout
