"""Event consumers: decode → claim the processed-event marker → handler → commit → offset commit.

A batch from the bus is handled in one transaction (one marker per event). If the batch fails, it
is retried one event at a time to isolate the poison one: transient failures are retried with
exponential backoff, then dead-lettered; decode errors, unknown types and DomainErrors are
dead-lettered at once. A dead letter goes to ``<group>.dlq`` with the original value and headers
plus ``x-dlq-reason``, ``x-dlq-attempts`` and ``x-original-topic/partition/offset``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from meridian.bus.base import Bus, Record, Subscription
from meridian.errors import DomainError
from meridian.events.envelope import EventDecodeError, EventMeta, decode
from meridian.events.registry import EventTypeUnknown, message_class
from meridian.telemetry import span_from

log = logging.getLogger("meridian.consumer")

# handler(message, meta, uow) for DB consumers; handler(message, meta) when the subscription has no DB
# (what it returns, unless None, goes to the subscription's after_batch).
EventHandler = Callable[..., Awaitable[Any]]
# prepare(events, uow): once per transaction, before the handlers, with the batch's new events
BatchPreparer = Callable[[list[tuple[Message, EventMeta]], Any], Awaitable[None]]


@dataclass(slots=True)
class EventSubscription:
    topics: Sequence[str]
    group: str
    handlers: dict[type[Message], EventHandler]
    from_latest: bool = False
    uses_db: bool = True
    max_batch: int = 500
    # optional: reads (or writes) what the whole batch needs in a few statements, so the per-event
    # handlers find it in the unit of work instead of querying once per event
    prepare: BatchPreparer | None = None
    # optional, for subscriptions without a DB: awaited once per batch after all its handlers
    # succeeded and before the offsets are committed, with what they returned (None left out), e.g.
    # to send the batch's results in one round trip; a failed attempt's results are dropped
    after_batch: Callable[[list[Any]], Awaitable[None]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    background: bool = False  # off the message's path to the agent (see Subscription)


BATCH_CONFLICT_RETRIES = 3
_TRANSIENT_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def is_transient_conflict(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure anywhere in the exception's cause chain."""
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        for attr in ("sqlstate", "pgcode"):
            if getattr(current, attr, None) in _TRANSIENT_SQLSTATES:
                return True
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]
    return False


def dlq_topic(group: str) -> str:
    return f"{group}.dlq"


class EventConsumer:
    def __init__(self, sub: EventSubscription, bus: Bus, uow_factory: Callable[[], Any] | None, *,
                 max_attempts: int = 5, base_backoff: float = 0.1) -> None:
        if sub.uses_db and uow_factory is None:
            raise ValueError(f"{sub.group} needs a unit of work factory")
        self.sub = sub
        self._bus = bus
        self._uow_factory = uow_factory
        self._max_attempts = max_attempts
        self._base_backoff = base_backoff
        self._skip: dict[bytes, bool] = {}  # ce_type -> a known type this group does not handle

    def _not_for_us(self, record: Record) -> bool:
        """A known event type this group has no handler for (another type on a shared topic): skipped
        without decoding. Unknown types and records without a type are decoded (and dead-lettered)."""
        event_type = record.header("ce_type")
        if event_type is None:
            return False
        skip = self._skip.get(event_type)
        if skip is None:
            try:
                skip = message_class(event_type.decode()) not in self.sub.handlers
            except (EventTypeUnknown, UnicodeDecodeError):
                return False
            self._skip[event_type] = skip
        return skip

    def subscription(self) -> Subscription:
        return Subscription(topics=list(self.sub.topics), group=self.sub.group, handler=self.handle_batch,
                            max_batch=self.sub.max_batch, from_latest=self.sub.from_latest, name=self.sub.group,
                            background=self.sub.background)

    async def handle_batch(self, records: list[Record]) -> None:
        events: list[tuple[Record, EventMeta, Message, EventHandler]] = []
        for record in records:
            if self._not_for_us(record):
                continue
            try:
                meta, message = decode(record)
            except (EventDecodeError, EventTypeUnknown) as exc:
                await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=0)
                continue
            handler = self.sub.handlers.get(type(message))
            if handler is not None:  # other types on a shared topic are not for this group
                events.append((record, meta, message, handler))
        if not events:
            return
        if len(events) > 1:
            for attempt in range(1, BATCH_CONFLICT_RETRIES + 1):
                try:
                    await self._run(events)
                    return
                except Exception as exc:
                    if is_transient_conflict(exc) and attempt < BATCH_CONFLICT_RETRIES:
                        # a deadlock or serialization failure with another group's transaction:
                        # the batch itself is fine, so retry it whole rather than event by event.
                        # Logged: a deadlock costs PostgreSQL's deadlock_timeout (1 s) before it is
                        # broken, which agents see as a stall, and it means two transactions take
                        # their locks in different orders, which is worth fixing.
                        log.warning("batch hit a deadlock or serialization failure, retrying it",
                                    extra={"group": self.sub.group, "attempt": attempt, "error": repr(exc)[:300]})
                        await asyncio.sleep(self._base_backoff * attempt)
                        continue
                    log.info("batch failed, retrying one by one",
                             extra={"group": self.sub.group, "error": repr(exc)})
                    break
        for event in events:
            await self._run_one_with_retries(event)

    async def _run(self, events: list[tuple[Record, EventMeta, Message, EventHandler]]) -> None:
        if not self.sub.uses_db:
            results = []
            for record, meta, message, handler in events:
                with span_from(meta.traceparent, f"process {record.topic}", event_id=str(meta.id)):
                    result = await handler(message, meta)
                if result is not None:
                    results.append(result)
            if self.sub.after_batch is not None:
                await self.sub.after_batch(results)
            return
        assert self._uow_factory is not None
        async with self._uow_factory() as uow:
            fresh = await uow.claim_many(self.sub.group, [meta.id for _, meta, _, _ in events])
            todo = []
            for event in events:
                if event[1].id in fresh:  # else a duplicate: processed before, or earlier in this batch
                    fresh.discard(event[1].id)
                    todo.append(event)
            if todo and self.sub.prepare is not None:
                await self.sub.prepare([(message, meta) for _, meta, message, _ in todo], uow)
            for record, meta, message, handler in todo:
                with span_from(meta.traceparent, f"process {record.topic}", event_id=str(meta.id),
                               tenant_id=meta.tenant_id):
                    uow.cause = meta
                    await handler(message, meta, uow)
                    uow.cause = None
            await uow.commit()

    async def _run_one_with_retries(self, event: tuple[Record, EventMeta, Message, EventHandler]) -> None:
        record, meta = event[0], event[1]
        for attempt in range(1, self._max_attempts + 1):
            try:
                await self._run([event])
                return
            except DomainError as exc:
                await self._dead_letter(record, f"{type(exc).__name__}: {exc.detail}", attempts=attempt)
                return
            except Exception as exc:
                if attempt == self._max_attempts:
                    log.error("event dead-lettered", extra={"group": self.sub.group, "event_id": str(meta.id),
                                                            "event_type": meta.type, "error": repr(exc)})
                    await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempt)
                    return
                await asyncio.sleep(self._base_backoff * 2 ** (attempt - 1))

    async def _dead_letter(self, record: Record, reason: str, *, attempts: int) -> None:
        headers = record.headers + (
            ("x-dlq-reason", reason[:2000].encode()),
            ("x-dlq-attempts", str(attempts).encode()),
            ("x-original-topic", record.topic.encode()),
            ("x-original-partition", str(record.partition).encode()),
            ("x-original-offset", str(record.offset).encode()),
        )
        log.warning("dead letter", extra={"group": self.sub.group, "topic": record.topic, "reason": reason[:300]})
        await self._bus.publish([Record(topic=dlq_topic(self.sub.group), key=record.key, value=record.value,
                                        headers=headers)])
