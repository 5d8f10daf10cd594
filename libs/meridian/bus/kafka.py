"""The bus on a Kafka-protocol broker (Apache Kafka, Redpanda, Tansu) through aiokafka.

- Publishing: one ``AIOKafkaProducer`` (``acks="all"``, idempotent unless turned off with
  ``MERIDIAN_KAFKA_IDEMPOTENCE=false``; Tansu rejects idempotent producers). A batch is sent
  concurrently and awaited as a whole; any broker error or a timeout raises ``BusUnavailable`` and
  the producer is rebuilt on the next call.
- Topics are created on demand (``partitions``, ``replication_factor``) before the first publish
  or subscribe and remembered; the memory is dropped on errors, because a broker without storage
  (Tansu ``memory://``) forgets its topics when it restarts.
- Consuming: one ``AIOKafkaConsumer`` per subscription, manual commits of handled batches only,
  redelivery (seek back) with backoff when the handler raises. Handled offsets are committed at
  most every ``COMMIT_INTERVAL`` while records keep coming, and at once when the consumer has
  nothing to fetch, before its partitions move and when it stops: an offset commit per batch cost
  a broker round trip per batch (most of them at moderate rates, when batches are small), and a
  record handled but not committed yet is only delivered again, to idempotent consumers. Broker
  errors never end a consumer: it is rebuilt after a backoff until ``stop()``. An offset commit
  that does not finish within ``COMMIT_TIMEOUT`` also rebuilds it: aiokafka retries a commit to a
  topic the broker no longer knows (a restarted ``memory://`` Tansu) forever; the rebuilt consumer
  re-creates the topics, and the uncommitted batch comes again to idempotent consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    IllegalStateError,
    KafkaError,
    TopicAlreadyExistsError,
    for_code,
)
from aiokafka.partitioner import DefaultPartitioner

from meridian.bus.base import Bus, BusUnavailable, Record, Subscription

log = logging.getLogger(__name__)

_FIRST_PAUSE = 0.05
_MAX_PAUSE = 2.0
_BROKER_ERRORS = (KafkaError, OSError, asyncio.TimeoutError)
COMMIT_TIMEOUT = 15.0  # seconds
COMMIT_INTERVAL = 0.2  # seconds between two offset commits of a consumer that keeps receiving records


class CommitStuck(Exception):
    """An offset commit did not finish in time; the consumer is rebuilt."""


def _pause(failures: int) -> float:
    return min(_FIRST_PAUSE * 2 ** max(failures - 1, 0), _MAX_PAUSE)


class KafkaBus(Bus):
    """Bus on a Kafka-protocol broker.

    ``bootstrap``: ``host:port[,host:port]``. ``client_id`` names this process in the broker's
    logs. ``idempotence`` turns on the idempotent producer (off for Tansu). ``partitions`` and
    ``replication_factor`` apply to topics this bus creates. ``publish_timeout`` bounds one
    ``publish`` call; ``stop_timeout`` bounds how long ``stop`` lets running batches finish.
    ``session_timeout_ms`` is the consumer-group session: a dead member's partitions move after
    it, and Tansu also holds every JoinGroup for half of it (tests use 2000; Apache Kafka
    rejects values below its ``group.min.session.timeout.ms``, 6000 by default).
    ``fetch_max_wait_ms`` bounds how long a fetch waits for records: Apache Kafka answers as soon
    as one record is there, but Tansu holds a fetch that found none for about half of it, and
    does not answer early when records arrive meanwhile (measured: a record produced during the
    hold waited ~210 ms at 500, ~6 ms at 50, at most ~26 ms). That adds up to every bus hop
    (500 ms, aiokafka's default, made a message's p50 ~720 ms at 10 msgs/s in distributed mode;
    50 ms made it ~90 ms). A small value costs idle consumers one fetch per interval: against
    Tansu, an idle consumer at 20 ms costs the broker ~0.45 ms and the client ~0.3 ms of CPU a
    fetch. Deployments on Apache Kafka set 500. A ``background`` subscription waits
    ``background_fetch_max_wait_ms`` (or ``fetch_max_wait_ms`` if that is longer): against Tansu,
    four background consumers at 250 ms instead of 20 took an idle distributed platform from 38–40%
    to 16–19% of one core.
    """

    def __init__(
        self,
        bootstrap: str,
        client_id: str,
        idempotence: bool = True,
        partitions: int = 4,
        replication_factor: int = 1,
        *,
        publish_timeout: float = 5.0,
        stop_timeout: float = 10.0,
        session_timeout_ms: int = 10_000,
        fetch_max_wait_ms: int = 20,
        background_fetch_max_wait_ms: int = 250,
    ) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._idempotence = idempotence
        self._partitions = partitions
        self._replication_factor = replication_factor
        self._publish_timeout = publish_timeout
        self._stop_timeout = stop_timeout
        self._session_timeout_ms = session_timeout_ms
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._background_fetch_max_wait_ms = max(background_fetch_max_wait_ms, fetch_max_wait_ms)
        self._producer: AIOKafkaProducer | None = None
        self._partitioner = DefaultPartitioner()  # what AIOKafkaProducer.send uses: murmur2 of the key
        self._producer_lock = asyncio.Lock()
        self._admin: AIOKafkaAdminClient | None = None
        self._admin_lock = asyncio.Lock()
        self._known_topics: set[str] = set()
        self._pending: list[Subscription] = []
        self._consumers: list[_Consumer] = []
        self._closing: set[asyncio.Task[None]] = set()
        self._started = False

    # -- Bus ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the subscriptions added so far. Never waits for the broker: consumers connect
        (and reconnect) in the background, and the producer connects on the first publish."""
        if self._started:
            return
        self._started = True
        pending, self._pending = self._pending, []
        for subscription in pending:
            self._launch(subscription)

    async def stop(self) -> None:
        """End every subscription (running batches may finish and commit) and close the clients.

        Subscriptions are forgotten: to consume again, subscribe again and ``start``.
        """
        self._started = False
        self._pending = []
        consumers, self._consumers = self._consumers, []
        await asyncio.gather(*(c.stop(self._stop_timeout) for c in consumers))
        async with self._producer_lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await self._close_quietly(producer.stop(), "producer")
        await self._drop_admin()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        topics = {r.topic for r in records}
        try:
            await asyncio.wait_for(self._send(records, topics), self._publish_timeout)
        except asyncio.CancelledError:
            raise
        except _BROKER_ERRORS as exc:
            self._known_topics -= topics
            await self._drop_producer()
            raise BusUnavailable(f"publish to {sorted(topics)} failed: {exc!r}") from exc

    def subscribe(self, subscription: Subscription) -> None:
        if not subscription.topics:
            raise ValueError("a subscription needs at least one topic")
        if subscription.max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if self._started:
            self._launch(subscription)
        else:
            self._pending.append(subscription)

    async def ping(self) -> bool:
        """True when cluster metadata can be fetched within about two seconds."""
        try:
            async with asyncio.timeout(2):
                admin = await self._get_admin()
                await admin.describe_cluster()
            return True
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            await self._drop_admin()
            return False

    # -- topics ------------------------------------------------------------------------------

    async def ensure_topics(self, topics: Sequence[str] | set[str]) -> None:
        """Create the topics this bus has not seen yet (existing ones are left alone)."""
        missing = [t for t in topics if t not in self._known_topics]
        if not missing:
            return
        admin = await self._get_admin()
        try:
            response = await admin.create_topics(
                [NewTopic(t, self._partitions, self._replication_factor) for t in missing]
            )
        except TopicAlreadyExistsError:
            response = None
        except _BROKER_ERRORS:
            await self._drop_admin()
            raise
        errors = {}
        for topic, code, *message in getattr(response, "topic_errors", ()):
            error = for_code(code) if code else None
            if error is None or error is TopicAlreadyExistsError:
                self._known_topics.add(topic)
            else:
                errors[topic] = error(*message)
        if response is None:
            self._known_topics.update(missing)
        if errors:
            raise next(iter(errors.values()))

    def forget_topics(self, topics: Sequence[str] | set[str]) -> None:
        self._known_topics.difference_update(topics)

    # -- internals ---------------------------------------------------------------------------

    async def _send(self, records: Sequence[Record], topics: set[str]) -> None:
        """Records go into one batch per partition (in their order), each batch handed to the
        producer once: ~25 µs of CPU a record against ~43 µs through ``send`` one by one (measured
        against Tansu). Keys are partitioned as ``send`` would (murmur2, as Java clients do)."""
        await self.ensure_topics(topics)
        producer = await self._get_producer()
        partitions = {t: sorted(await producer.partitions_for(t)) for t in topics}
        open_batches: dict[tuple[str, int], Any] = {}
        ready: list[tuple[tuple[str, int], Any]] = []
        for r in records:
            choices = partitions[r.topic]
            tp = (r.topic, self._partitioner(r.key, choices, choices))
            batch = open_batches.get(tp)
            if batch is None:
                batch = open_batches[tp] = producer.create_batch()
            record = {"key": r.key, "value": r.value, "timestamp": r.timestamp_ms or None, "headers": list(r.headers)}
            if batch.append(**record) is None:
                ready.append((tp, batch))  # full: sent before the next batch of this partition
                batch = open_batches[tp] = producer.create_batch()
                if batch.append(**record) is None:
                    raise BusUnavailable(f"a record of {len(r.value)} bytes does not fit in a batch for {r.topic}")
        ready.extend(open_batches.items())
        futures = [await producer.send_batch(batch, topic, partition=partition)
                   for (topic, partition), batch in ready]
        await asyncio.gather(*futures)

    async def _get_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    acks="all",
                    enable_idempotence=self._idempotence,
                    # no linger: each publish hands over whole batches (``_send``) and waits
                    # for them, so lingering would only delay every bus hop
                    linger_ms=0,
                    request_timeout_ms=int(self._publish_timeout * 1000),
                    retry_backoff_ms=50,
                    metadata_max_age_ms=30_000,
                )
                try:
                    await producer.start()
                except BaseException:
                    await self._close_quietly(producer.stop(), "producer")
                    raise
                self._producer = producer
            return self._producer

    async def _drop_producer(self) -> None:
        async with self._producer_lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            # stop() flushes what is left, which may wait for the broker: do it in the background
            self._background(self._close_quietly(producer.stop(), "producer"))

    async def _get_admin(self) -> AIOKafkaAdminClient:
        async with self._admin_lock:
            if self._admin is None:
                admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    request_timeout_ms=5000,
                )
                try:
                    await admin.start()
                except BaseException:
                    await self._close_quietly(admin.close(), "admin client")
                    raise
                self._admin = admin
            return self._admin

    async def _drop_admin(self) -> None:
        async with self._admin_lock:
            admin, self._admin = self._admin, None
        if admin is not None:
            await self._close_quietly(admin.close(), "admin client")

    def _launch(self, subscription: Subscription) -> None:
        consumer = _Consumer(self, subscription)
        self._consumers.append(consumer)
        consumer.start()

    def _background(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(coro)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_quietly(coro, what: str, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
        try:
            await asyncio.wait_for(coro, limit)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - closing a broken client must not fail the caller
            log.warning("closing the kafka %s failed", what, exc_info=True)

    def _consumer_options(self, subscription: Subscription) -> dict[str, object]:
        return {
            "bootstrap_servers": self._bootstrap,
            "client_id": self._client_id,
            "group_id": subscription.group,
            "enable_auto_commit": False,
            "auto_offset_reset": "latest" if subscription.from_latest else "earliest",
            "max_poll_records": subscription.max_batch,
            "session_timeout_ms": self._session_timeout_ms,
            "heartbeat_interval_ms": max(100, min(1_000, self._session_timeout_ms // 5)),
            "metadata_max_age_ms": 5_000,
            "fetch_max_wait_ms": (self._background_fetch_max_wait_ms if subscription.background
                                  else self._fetch_max_wait_ms),
            "retry_backoff_ms": 100,
            "request_timeout_ms": 15_000,
        }


class _Consumer(ConsumerRebalanceListener):
    """Runs one subscription: fetch a batch, handle it, commit it; rebuild the client on errors."""

    def __init__(self, bus: KafkaBus, subscription: Subscription) -> None:
        self._bus = bus
        self._subscription = subscription
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._idle = asyncio.Event()  # clear while a batch is being handled
        self._idle.set()
        self._consumer: AIOKafkaConsumer | None = None
        self._handled: dict[TopicPartition, int] = {}  # next offsets of handled records, not committed yet
        self._committed_at = 0.0

    def start(self) -> None:
        s = self._subscription
        label = s.name or f"{s.group}:{','.join(s.topics)}"
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"bus {label}")

    async def stop(self, grace: float) -> None:
        self._stopping = True
        task = self._task
        if task is None:
            return
        if self._idle.is_set():
            task.cancel()  # waiting for records, or pausing: nothing to finish
        else:
            _, late = await asyncio.wait([task], timeout=grace)
            if late:
                task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # ConsumerRebalanceListener: let a running batch finish and commit what was handled before the
    # partitions move, so the new owner does not receive it again.
    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        try:
            await asyncio.wait_for(self._idle.wait(), 30)
        except TimeoutError:
            log.warning("bus batch still running at rebalance", extra={"group": self._subscription.group})
        if self._consumer is not None:
            await self._commit_quietly(self._consumer)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None

    async def _run(self) -> None:
        s = self._subscription
        failures = 0
        while not self._stopping:
            consumer: AIOKafkaConsumer | None = None
            try:
                await self._bus.ensure_topics(s.topics)
                consumer = AIOKafkaConsumer(**self._bus._consumer_options(s))
                self._consumer, self._handled = consumer, {}
                consumer.subscribe(list(s.topics), listener=self)
                await consumer.start()
                failures = 0
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive any broker trouble
                failures += 1
                self._bus.forget_topics(s.topics)
                log.warning(
                    "bus consumer failed; reconnecting",
                    exc_info=True,
                    extra={"group": s.group, "failures": failures},
                )
            finally:
                if consumer is not None:
                    await self._commit_quietly(consumer)
                    self._consumer = None
                    await self._bus._close_quietly(consumer.stop(), "consumer", limit=5)
            if not self._stopping:
                await asyncio.sleep(_pause(failures))

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        s = self._subscription
        failures = 0
        while not self._stopping:
            wait = 1.0 if not self._handled else self._committed_at + COMMIT_INTERVAL - time.monotonic()
            fetched = await consumer.getmany(timeout_ms=max(1, int(wait * 1000)), max_records=s.max_batch)
            if self._stopping:
                continue
            if not fetched:  # nothing to do: commit what was handled
                await self._commit(consumer)
                continue
            batch: list[ConsumerRecord] = [r for records in fetched.values() for r in records]
            self._idle.clear()
            try:
                try:
                    await s.handler([_record(r) for r in batch])
                except asyncio.CancelledError:
                    raise
                except Exception:
                    failures += 1
                    log.exception(
                        "bus handler failed; the batch will be redelivered",
                        extra={"group": s.group, "batch_size": len(batch), "failures": failures},
                    )
                    for tp, records in fetched.items():
                        with contextlib.suppress(IllegalStateError):  # revoked meanwhile
                            consumer.seek(tp, records[0].offset)
                else:
                    failures = 0
                    self._handled.update({tp: records[-1].offset + 1 for tp, records in fetched.items()})
            finally:
                self._idle.set()
            if time.monotonic() - self._committed_at >= COMMIT_INTERVAL:
                await self._commit(consumer)
            if failures:
                await asyncio.sleep(_pause(failures))

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit the handled offsets; one the group refuses (it moved on: a rebalance, a broker
        restart) is dropped, as the partitions' new owner starts from the last commit anyway."""
        offsets, self._handled = self._handled, {}
        self._committed_at = time.monotonic()
        if not offsets:
            return
        try:
            await asyncio.wait_for(consumer.commit(offsets), COMMIT_TIMEOUT)
        except TimeoutError:
            raise CommitStuck(f"offset commit of {self._subscription.group} took over {COMMIT_TIMEOUT:.0f} s") from None
        except (KafkaError, IllegalStateError):
            log.warning("bus commit failed", exc_info=True, extra={"group": self._subscription.group})

    async def _commit_quietly(self, consumer: AIOKafkaConsumer) -> None:
        """``_commit`` where the consumer is going away or its partitions moving: bounded, and a
        failure only means those records come again."""
        try:
            async with asyncio.timeout(5):
                await self._commit(consumer)
        except Exception:  # noqa: BLE001 - the consumer may be broken; redelivery covers it
            log.warning("bus commit of handled offsets failed", exc_info=True,
                        extra={"group": self._subscription.group})


def _record(r: ConsumerRecord) -> Record:
    return Record(
        topic=r.topic,
        value=r.value if r.value is not None else b"",
        key=r.key,
        headers=tuple((k, bytes(v) if v is not None else b"") for k, v in r.headers),
        partition=r.partition,
        offset=r.offset,
        timestamp_ms=r.timestamp,
    )
