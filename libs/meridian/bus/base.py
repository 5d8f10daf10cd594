"""The bus interface shared by the in-memory and the Kafka implementation.

Semantics (both implementations, checked by tests/contract/test_bus_conformance.py):
- a topic has a fixed number of partitions; a record's key picks its partition, so records with the
  same key are delivered in the order they were published;
- each consumer group receives every record of its topics once it is committed; two groups are
  independent;
- at-least-once: a batch is committed only after the handler returned; if the handler raises, the
  same records (from the last committed offset) are delivered again after a short pause;
- ``from_latest`` groups start at the end of the topic (used for per-process fan-out groups);
  like Kafka's ``auto.offset.reset``, this only applies while the group has no committed offset;
- topics are created on first use (publish or subscribe);
- ``stop`` ends every subscription and forgets it; a stopped bus may be started again, and a new
  subscription of the same group resumes from the group's committed offsets.

Implementations: ``memory.MemoryBus`` (in-process) and ``kafka.KafkaBus`` (aiokafka).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True, slots=True)
class Record:
    """One record. Publishers set topic, value, key and headers; ``partition``, ``offset`` and
    ``timestamp_ms`` are filled in on consumption (a publisher's ``timestamp_ms`` is kept)."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()
    partition: int = -1
    offset: int = -1
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


BatchHandler = Callable[[list[Record]], Awaitable[None]]


@dataclass(slots=True)
class Subscription:
    """A consumer group reading ``topics``; ``handler`` gets batches of up to ``max_batch`` records.

    A batch may mix partitions but keeps each partition's order. Several subscriptions with the same
    ``group`` split the partitions among themselves. ``name`` only labels tasks and logs.
    ``background``: off the path a customer's message takes to the agent (audit, delivery reports,
    assignments): a bus that polls its broker may pick these records up later and poll less
    (``KafkaBus``'s ``background_fetch_max_wait_ms``).
    """

    topics: Sequence[str]
    group: str
    handler: BatchHandler
    max_batch: int = 500
    from_latest: bool = False
    name: str = field(default="")
    background: bool = False


class Bus(abc.ABC):
    """Publish records and run consumer groups. ``start`` begins every subscription added so far;
    later ``subscribe`` calls begin at once."""

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None:
        """End and forget every subscription (a running batch may finish and commit), close clients."""

    @abc.abstractmethod
    async def publish(self, records: Sequence[Record]) -> None:
        """Publish and wait until every record is durably accepted; raise BusUnavailable otherwise."""

    @abc.abstractmethod
    def subscribe(self, subscription: Subscription) -> None:
        """Register a consumer group. May be called before or after ``start``."""

    @abc.abstractmethod
    async def ping(self) -> bool:
        """True when the bus is reachable (used by /readyz)."""


class BusUnavailable(Exception):
    """The broker could not accept or deliver records right now; callers retry later."""
