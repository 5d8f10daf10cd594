"""Transactional outbox and processed-event markers, one pair of tables in every service schema,
and the relay that publishes outbox rows to the bus in ``seq`` order."""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

from meridian.bus.base import Bus, BusUnavailable, Record

log = logging.getLogger("meridian.outbox")

RETENTION = timedelta(days=7)


def outbox_table(metadata: MetaData) -> Table:
    table = Table(
        "outbox",
        metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=True),
        Column("type", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column("last_error", Text, nullable=True),
    )
    Index("ix_outbox_unsent", table.c.seq, postgresql_where=table.c.sent_at.is_(None))
    return table


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("group", Text, nullable=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("group", "event_id"),
    )


def _claim_statement(t: Table):  # noqa: ANN202 - a SQLAlchemy Update
    """``WITH relay_lock AS (SELECT pg_try_advisory_xact_lock(:lock_key)) UPDATE outbox SET sent_at = now()
    WHERE seq IN (the :batch oldest unsent rows, if the lock is held, FOR UPDATE SKIP LOCKED)
    RETURNING …``: the relay's lock, claim and mark in one round trip."""
    held = select(func.pg_try_advisory_xact_lock(bindparam("lock_key", type_=BigInteger)).label("held")).cte(
        "relay_lock")
    due = (select(t.c.seq).select_from(t.join(held, held.c.held)).where(t.c.sent_at.is_(None))
           .order_by(t.c.seq).limit(bindparam("batch", type_=Integer)).with_for_update(of=t, skip_locked=True))
    return (update(t).where(t.c.seq.in_(due)).values(sent_at=func.now())
            .returning(t.c.seq, t.c.topic, t.c.key, t.c.headers, t.c.payload))


class OutboxRelay:
    """Publishes unsent outbox rows in ``seq`` order; wakes on commit and polls every second.

    One relay per schema publishes at a time (a transaction-scoped advisory lock), so two processes
    of one service never reorder a key. A failed publish keeps the whole batch for the next round:
    the relay never skips ahead.
    """

    def __init__(self, engine: AsyncEngine, table: Table, bus: Bus, schema: str, *, batch: int = 1000,
                 poll_interval: float = 1.0) -> None:
        self._engine = engine
        self._table = table
        self._bus = bus
        self._batch = batch
        self._poll = poll_interval
        self._lock_key = zlib.crc32(f"meridian.outbox.{schema}".encode())
        self._claim = _claim_statement(table)
        self._wake = asyncio.Event()
        self._last_prune = datetime.min.replace(tzinfo=UTC)
        self._failures = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                # a batch smaller than the limit drained the outbox: a row committed since then set
                # the wake event again (it was cleared above), so no empty claim is spent to learn it
                while await self.flush_once() >= self._batch:
                    pass
                self._failures = 0
                await self._maybe_prune()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the DB or the bus is down: back off, nothing is lost
                self._failures += 1
                log.warning("outbox relay failed", extra={"error": repr(exc), "failures": self._failures})
                await asyncio.sleep(min(0.1 * 2 ** self._failures, 5.0))

    async def flush_once(self) -> int:
        """Publish one batch; returns the number of rows sent (0 when idle or locked elsewhere).

        One statement takes the schema's relay lock, claims the oldest unsent rows and marks them
        sent; if publishing fails they are marked unsent again (with the attempt recorded) before
        the transaction commits, so nothing is skipped."""
        t = self._table
        async with self._engine.begin() as conn:
            rows = (await conn.execute(self._claim, {"lock_key": self._lock_key, "batch": self._batch})).all()
            if not rows:
                return 0
            rows.sort(key=lambda r: r.seq)  # RETURNING has no order
            records = [
                Record(
                    topic=r.topic,
                    key=r.key.encode() if r.key is not None else None,
                    value=bytes(r.payload),
                    headers=tuple([(k, v.encode()) for k, v in r.headers.items()]),
                )
                for r in rows
            ]
            seqs = [r.seq for r in rows]
            failure: BusUnavailable | None = None
            try:
                await self._bus.publish(records)
            except BusUnavailable as exc:  # back to unsent, the attempt recorded (committed); run() backs off
                failure = exc
                await conn.execute(update(t).where(t.c.seq.in_(seqs)).values(sent_at=None))
                await conn.execute(
                    update(t).where(t.c.seq == seqs[0]).values(attempts=t.c.attempts + 1, last_error=str(exc)[:500])
                )
        if failure is not None:
            raise failure
        return len(rows)

    async def pending(self) -> int:
        t = self._table
        async with self._engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(t).where(t.c.sent_at.is_(None))) or 0)

    async def _maybe_prune(self) -> None:
        now = datetime.now(UTC)
        if now - self._last_prune < timedelta(minutes=10):
            return
        self._last_prune = now
        t = self._table
        async with self._engine.begin() as conn:
            await conn.execute(delete(t).where(t.c.sent_at.is_not(None), t.c.sent_at < now - RETENTION))
