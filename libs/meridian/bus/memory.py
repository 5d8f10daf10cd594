"""In-process bus for the embedded runtime and the service tests.

Same semantics as ``KafkaBus`` (see ``base.py``): keyed partitions, consumer groups with committed
offsets per partition, at-least-once delivery with redelivery after a failed batch, ``from_latest``.
Everything runs on the event loop of the caller; a consumer sleeps on its own event, set when a
record arrives on one of its topics or its group's partitions change hands (no polling, and no
wake-up of consumers that have nothing to read). Tests wait with ``await bus.drained()`` and read
what was published with ``records()``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import itertools
import logging
import time
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

from meridian.bus.base import Bus, Record, Subscription

log = logging.getLogger(__name__)

_FIRST_PAUSE = 0.05
_MAX_PAUSE = 2.0

TopicPartition = tuple[str, int]


@functools.lru_cache(maxsize=65_536)
def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` (murmur2, positive, modulo).
    Cached: keys repeat (a conversation's events share one) and murmur2 here is pure Python."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def _pause(failures: int) -> float:
    return min(_FIRST_PAUSE * 2 ** max(failures - 1, 0), _MAX_PAUSE)


class _Partition:
    """A log: ``records[i]`` has offset ``start + i``; ``seqs`` orders records across partitions."""

    __slots__ = ("start", "records", "seqs")

    def __init__(self) -> None:
        self.start = 0
        self.records: list[Record] = []
        self.seqs: list[int] = []

    @property
    def end(self) -> int:
        return self.start + len(self.records)

    def read(self, offset: int, limit: int) -> list[Record]:
        begin = max(offset, self.start) - self.start
        return self.records[begin : begin + limit]

    def trim(self, offset: int) -> int:
        """Drop records below ``offset``; return how many were dropped."""
        n = min(offset, self.end) - self.start
        if n <= 0:
            return 0
        del self.records[:n]
        del self.seqs[:n]
        self.start += n
        return n


class _Topic:
    __slots__ = ("name", "partitions", "round_robin")

    def __init__(self, name: str, partitions: int) -> None:
        self.name = name
        self.partitions = [_Partition() for _ in range(partitions)]
        self.round_robin = itertools.cycle(range(partitions))


class _Member:
    """One running subscription: a task reading the partitions its group assigned to it."""

    __slots__ = ("subscription", "group", "assigned", "task", "busy", "stopping", "rotation", "wake")

    def __init__(self, subscription: Subscription, group: _Group) -> None:
        self.subscription = subscription
        self.group = group
        self.assigned: list[TopicPartition] = []
        self.task: asyncio.Task[None] | None = None
        self.busy = False  # a handler call (and its commit) is in progress
        self.stopping = False
        self.rotation = 0  # which assigned partition the next batch starts with (fairness)
        self.wake = asyncio.Event()  # set when there may be something new to read


class _Group:
    """Committed offsets of a consumer group; survive the members (as in Kafka)."""

    __slots__ = ("name", "committed", "members", "inflight")

    def __init__(self, name: str) -> None:
        self.name = name
        self.committed: dict[TopicPartition, int] = {}
        self.members: list[_Member] = []
        self.inflight: dict[TopicPartition, _Member] = {}  # partitions a member is handling now

    def topics(self) -> set[str]:
        return {tp[0] for tp in self.committed}

    def rebalance(self) -> None:
        """Spread each topic's partitions over the members reading that topic (round-robin)."""
        for member in self.members:
            member.assigned = []
        for topic in sorted(self.topics()):
            readers = [m for m in self.members if topic in m.subscription.topics]
            if not readers:
                continue
            tps = sorted(tp for tp in self.committed if tp[0] == topic)
            for i, tp in enumerate(tps):
                readers[i % len(readers)].assigned.append(tp)


class MemoryBus(Bus):
    """In-process bus. ``retention`` bounds the consumed records kept per partition (None: keep all).

    With ``retention=n``, a partition drops the oldest records that every group reading its topic
    has committed once more than ``2 * n`` of them pile up, keeping the last ``n``. Topics that no
    group reads are trimmed the same way. ``trim()`` drops every such record at once.
    """

    def __init__(self, partitions: int = 4, *, retention: int | None = None, stop_timeout: float = 10.0) -> None:
        if partitions < 1:
            raise ValueError("partitions must be >= 1")
        self._partitions = partitions
        self.last_publish_ms = 0  # when records were last published (epoch ms; 0: never)
        self._stop_timeout = stop_timeout
        self._retention = retention
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._pending: list[Subscription] = []
        self._watchers: list[asyncio.Future[None]] = []  # drained() calls waiting for a change
        self._seq = itertools.count()
        self._started = False

    # -- Bus ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        pending, self._pending = self._pending, []
        for subscription in pending:
            self._join(subscription)

    async def stop(self) -> None:
        """End every subscription. A running batch may finish and commit (up to ``stop_timeout``).

        Records and committed offsets stay; subscribe again and ``start`` to resume a group.
        """
        self._started = False
        self._pending = []
        members = [m for g in self._groups.values() for m in g.members]
        for member in members:
            member.stopping = True
            if not member.busy and member.task is not None:
                member.task.cancel()  # idle, or pausing after a failure: nothing to finish
        tasks = [m.task for m in members if m.task is not None]
        if tasks:
            for member in members:
                member.wake.set()
            _, late = await asyncio.wait(tasks, timeout=self._stop_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for group in self._groups.values():
            group.members.clear()
            group.inflight.clear()
            group.rebalance()
        self._changed()

    async def publish(self, records: Sequence[Record]) -> None:
        now = int(time.time() * 1000)
        touched: set[str] = set()
        for record in records:
            touched.add(record.topic)
            topic = self._topic(record.topic)
            if record.key is None:
                p = next(topic.round_robin)
            else:
                p = partition_for(record.key, len(topic.partitions))
            log_ = topic.partitions[p]
            log_.records.append(
                dataclasses.replace(record, partition=p, offset=log_.end, timestamp_ms=record.timestamp_ms or now)
            )
            log_.seqs.append(next(self._seq))
        if records:
            self.last_publish_ms = now
            for group in self._groups.values():
                for member in group.members:
                    if not member.wake.is_set() and not touched.isdisjoint(member.subscription.topics):
                        member.wake.set()
            self._changed()

    def subscribe(self, subscription: Subscription) -> None:
        if not subscription.topics:
            raise ValueError("a subscription needs at least one topic")
        if subscription.max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        group = self._groups.get(subscription.group) or self._groups.setdefault(
            subscription.group, _Group(subscription.group)
        )
        # Offsets are fixed when the group first meets a partition, so records published after
        # subscribe() are delivered even if the consumer task has not run yet.
        for name in subscription.topics:
            for p, log_ in enumerate(self._topic(name).partitions):
                group.committed.setdefault((name, p), log_.end if subscription.from_latest else 0)
        if self._started:
            self._join(subscription)
        else:
            self._pending.append(subscription)

    async def ping(self) -> bool:
        return True

    # -- test and embedded-runtime helpers ---------------------------------------------------

    def is_drained(self) -> bool:
        """Every group committed every record of its topics and no handler runs."""
        for group in self._groups.values():
            if group.inflight:
                return False
            for (name, p), offset in group.committed.items():
                if offset < self._topics[name].partitions[p].end:
                    return False
        return True

    async def drained(self, timeout: float = 10) -> None:  # noqa: ASYNC109 - a test helper
        """Wait until every group committed every record of its topics and no handler runs.

        Raises ``TimeoutError`` after ``timeout`` seconds (for instance when a handler keeps
        failing, or a group has no running member).
        """
        loop = asyncio.get_running_loop()

        async def settled() -> None:
            while not self.is_drained():
                change = loop.create_future()
                self._watchers.append(change)
                await change

        await asyncio.wait_for(settled(), timeout)

    def records(self, topic: str) -> list[Record]:
        """Every retained record of ``topic`` in publish order (with partition and offset)."""
        t = self._topics.get(topic)
        if t is None:
            return []
        entries = [(s, r) for log_ in t.partitions for s, r in zip(log_.seqs, log_.records, strict=True)]
        entries.sort(key=lambda e: e[0])
        return [r for _, r in entries]

    def trim(self) -> int:
        """Drop every record that all groups reading its topic have committed; return the count."""
        return sum(self._trim(name, keep=0) for name in self._topics)

    # -- internals ---------------------------------------------------------------------------

    def _topic(self, name: str) -> _Topic:
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = _Topic(name, self._partitions)
        return topic

    def _changed(self) -> None:
        """Something a ``drained()`` call may be waiting for happened."""
        watchers, self._watchers = self._watchers, []
        for change in watchers:
            if not change.done():
                change.set_result(None)

    @staticmethod
    def _wake_group(group: _Group) -> None:
        """Partitions of ``group`` were released or reassigned: its members look again."""
        for member in group.members:
            member.wake.set()

    def _join(self, subscription: Subscription) -> None:
        group = self._groups[subscription.group]
        member = _Member(subscription, group)
        group.members.append(member)
        group.rebalance()
        self._wake_group(group)
        label = subscription.name or f"{subscription.group}:{','.join(subscription.topics)}"
        member.task = asyncio.get_running_loop().create_task(self._run(member), name=f"bus {label}")

    def _fetch(self, member: _Member) -> list[Record]:
        """The next batch for ``member``: up to max_batch records from its free partitions."""
        group = member.group
        limit = member.subscription.max_batch
        batch: list[Record] = []
        assigned = member.assigned
        n = len(assigned)
        for i in range(n):
            tp = assigned[(member.rotation + i) % n]
            owner = group.inflight.get(tp)
            if owner is not None and owner is not member:
                continue  # still being handled by its previous owner (after a rebalance)
            chunk = self._topics[tp[0]].partitions[tp[1]].read(group.committed[tp], limit - len(batch))
            batch.extend(chunk)
            if len(batch) >= limit:
                break
        if n:
            member.rotation = (member.rotation + 1) % n
        return batch

    def _has_work(self, member: _Member) -> bool:
        group = member.group
        for tp in member.assigned:
            owner = group.inflight.get(tp)
            if owner is not None and owner is not member:
                continue
            if group.committed[tp] < self._topics[tp[0]].partitions[tp[1]].end:
                return True
        return False

    async def _run(self, member: _Member) -> None:
        subscription, group = member.subscription, member.group
        failures = 0
        while not member.stopping:
            member.wake.clear()
            if not self._has_work(member):
                await member.wake.wait()
                continue
            batch = self._fetch(member)
            tps = {(r.topic, r.partition) for r in batch}
            for tp in tps:
                group.inflight[tp] = member
            member.busy = True
            try:
                await subscription.handler(batch)
            except asyncio.CancelledError:
                member.busy = False
                self._release(group, member, tps)
                raise
            except Exception:
                failures += 1
                log.exception(
                    "bus handler failed; the batch will be redelivered",
                    extra={"group": group.name, "batch_size": len(batch), "failures": failures},
                )
                member.busy = False
                self._release(group, member, tps)
                if member.stopping:
                    return
                await asyncio.sleep(_pause(failures))
                continue
            failures = 0
            for r in batch:
                tp = (r.topic, r.partition)
                if r.offset + 1 > group.committed[tp]:
                    group.committed[tp] = r.offset + 1
            member.busy = False
            if self._retention is not None:
                for name in {r.topic for r in batch}:
                    self._trim(name, keep=self._retention, slack=self._retention)
            self._release(group, member, tps)

    def _release(self, group: _Group, member: _Member, tps: set[TopicPartition]) -> None:
        """``member`` is done with ``tps`` (handled, failed or cancelled): another member of its group
        may read them now, and a ``drained()`` call may be satisfied."""
        for tp in tps:
            if group.inflight.get(tp) is member:
                del group.inflight[tp]
        if len(group.members) > 1:
            self._wake_group(group)
        self._changed()

    def _trim(self, name: str, keep: int, slack: int = 0) -> int:
        topic = self._topics[name]
        readers = [g for g in self._groups.values() if (name, 0) in g.committed]
        dropped = 0
        for p, log_ in enumerate(topic.partitions):
            safe = min((g.committed[(name, p)] for g in readers), default=log_.end)
            if safe - log_.start > keep + slack:
                dropped += log_.trim(safe - keep)
        return dropped
