"""Unit of work: one transaction holding the service's writes and the outbox rows it emits."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NamedTuple, Self
from uuid import UUID

import asyncpg
import orjson
from google.protobuf.message import Message
from opentelemetry import context as otel_context
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from meridian.db.driver import Lease, begin_on_driver, discard_if_lost, end_on_driver, kept_connections
from meridian.events.envelope import EventMeta, encode_value, header_map, new_meta
from meridian.events.registry import topic_of
from meridian.telemetry import current_traceparent

log = logging.getLogger("meridian.uow")

# the cause and trace context of a moment, restored for work run later (SqlUnitOfWork.restored)
CapturedContext = tuple[EventMeta | None, otel_context.Context]
# store(rows) -> the ids of the rows it stored, in one statement (see SqlUnitOfWork.store_at_commit)
StoreMany = Callable[[list[Any]], Awaitable[set[Any]]]


class OutboxRow(NamedTuple):  # one per event emitted: ~0.5 µs to build against ~2 µs for a frozen dataclass
    id: UUID
    topic: str
    key: str | None
    type: str
    headers: dict[str, str]
    payload: bytes


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SqlUnitOfWork:
    """Subclasses attach their repositories in ``bind(conn)``; ``db`` is the asyncpg connection
    beneath ``conn``, in the same transaction, for the hot statements (meridian.db.driver).

    ``emit`` queues an event; ``commit`` writes the queued events to the outbox in the same
    transaction as the data. Handlers never commit: the runner (``ServiceKit.execute`` or the event
    consumer) does. ``store_at_commit`` stages a row for a batched insert run at commit, before the
    events are written, with a follow-up for when the row is stored.
    """

    def __init__(self, engine: AsyncEngine, *, outbox: Table, processed: Table, source: str, data_region: str,
                 clock: Clock, on_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._outbox = outbox
        self._processed = processed
        self.source = source
        self.data_region = data_region
        self.clock = clock
        self._on_commit = on_commit
        self._pending: list[tuple[str, Message, EventMeta]] = []
        self._staged: dict[StoreMany, list[tuple[Any, Callable[[], None]]]] = {}
        self.cause: EventMeta | None = None
        self._lease: Lease
        self._transaction: asyncpg.transaction.Transaction
        self.conn: AsyncConnection
        self.db: asyncpg.Connection  # the driver connection beneath ``conn``, in the same transaction

    def bind(self, conn: AsyncConnection) -> None:
        """Create repositories on ``conn``. Overridden by each service's UoW."""

    async def __aenter__(self) -> Self:
        connections = kept_connections(self._engine)
        self._lease = lease = await connections.acquire()
        self.conn, self.db = lease.conn, lease.raw.driver_connection
        try:
            self._transaction = await begin_on_driver(self.conn, lease.raw)
        except BaseException:
            await connections.release(lease, broken=True)
            raise
        self._pending = []
        self._staged = {}
        self.bind(self.conn)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        broken = True
        try:
            if exc is not None and await discard_if_lost(self.conn, self.db, exc):
                return  # the driver saw the connection go, which SQLAlchemy's pool cannot know
            await end_on_driver(self.conn, self._lease.raw, self._transaction, commit=False)  # unless committed
            broken = False
        finally:
            await kept_connections(self._engine).release(self._lease, broken=broken)

    def emit(self, message: Message, *, key: str, tenant_id: str | UUID, topic: str | None = None,
             headers: dict[str, str] | None = None) -> EventMeta:
        """Queue an event; ``headers`` (optional) are extra record headers, e.g. ``x-dlq-reason``."""
        tenant, traceparent, extra = str(tenant_id), current_traceparent(), dict(headers) if headers else None
        if self.cause is not None:
            meta = self.cause.caused(message.DESCRIPTOR.full_name, self.source, key, tenant_id=tenant,
                                     traceparent=traceparent, extra=extra)
        else:
            meta = new_meta(message, tenant_id=tenant, source=self.source, key=key, data_region=self.data_region,
                            traceparent=traceparent, extra=extra)
        self._pending.append((topic or topic_of(message), message, meta))
        return meta

    def store_at_commit(self, store: StoreMany, row: Any, on_stored: Callable[[], None]) -> None:
        """Stage ``row`` (it has an ``id``) for ``store``, which writes all the rows staged for it in
        one statement at commit and returns the ids it stored (a duplicate is left out). Then
        ``on_stored()`` runs if the row was stored, with the cause and trace context of now, so what
        it emits is caused by, and traced under, the event being handled now."""
        self._staged.setdefault(store, []).append((row, self._later(on_stored)))

    async def _store_staged(self) -> None:
        staged, self._staged = self._staged, {}
        for store, items in staged.items():
            stored = await store([row for row, _ in items])
            for row, on_stored in items:
                if row.id in stored:
                    on_stored()
                else:
                    log.info("duplicate not stored", extra={"row": type(row).__name__, "row_id": str(row.id)})

    def captured(self) -> CapturedContext:
        """The cause and trace context of now, for work run later in this transaction (``restored``)."""
        return self.cause, otel_context.get_current()

    @contextlib.contextmanager
    def restored(self, context: CapturedContext) -> Iterator[None]:
        """Run the block under a ``captured`` cause and trace context: what it emits is caused by, and
        traced under, the event that was being handled then."""
        cause, trace_context = context
        outer, self.cause = self.cause, cause
        token = otel_context.attach(trace_context)
        try:
            yield
        finally:
            otel_context.detach(token)
            self.cause = outer

    def _later(self, fn: Callable[[], None]) -> Callable[[], None]:
        """``fn``, to be called later in this transaction, under the cause and trace context of now."""
        context = self.captured()

        def run() -> None:
            with self.restored(context):
                fn()

        return run

    def audit(self, tenant_id: str | UUID, *, action: str, resource_type: str, resource_id: str | UUID,
              actor_type: str = "system", actor_id: str = "", details: dict[str, str] | None = None) -> None:
        """Emit an audit record of a state change (compliance chains and stores it)."""
        from meridian.contracts.audit import records_v1_pb2 as audit_v1
        from meridian.events.registry import audit_topic

        record = audit_v1.AuditRecorded(actor_type=actor_type, actor_id=actor_id, action=action,
                                        resource_type=resource_type, resource_id=str(resource_id),
                                        service=self.source, details=details or {})
        record.occurred_at.FromDatetime(self.clock.now())
        self.emit(record, key=str(resource_id), tenant_id=tenant_id, topic=audit_topic(self.source))

    async def claim_many(self, group: str, event_ids: list[UUID]) -> set[UUID]:
        """Mark a batch of events processed in one statement; returns the ids not seen before.

        One statement on the driver connection whatever the batch size (the ids travel as an array)."""
        if not event_ids:
            return set()
        rows = await self.db.fetch(_claim_many_sql(self._processed.name), group, list(dict.fromkeys(event_ids)))
        return {row[0] for row in rows}

    def outbox_rows(self) -> list[OutboxRow]:
        """The queued events as outbox rows, in the order they were emitted."""
        return [
            OutboxRow(meta.id, topic, meta.partition_key or None, meta.type, header_map(meta),
                      encode_value(message, meta.content_type))
            for topic, message, meta in self._pending
        ]

    def outbox_arrays(self) -> list[list[Any]]:
        """The queued events as the columns of ``outbox_insert_sql``'s ``$n``…``$n+5``, in the order
        they were emitted."""
        rows = self.outbox_rows()
        return [[r.id for r in rows], [r.topic for r in rows], [r.key for r in rows], [r.type for r in rows],
                [orjson.dumps(r.headers).decode() for r in rows], [r.payload for r in rows]]

    async def flush_events(self) -> None:
        """Write the queued events to the outbox in one statement on the driver connection, the rows
        as arrays (SQLAlchemy's executemany of the same rows cost several times the CPU)."""
        if not self._pending:
            return
        await self.db.execute(outbox_insert_sql(self._outbox.name), *self.outbox_arrays())
        self._pending = []

    async def run_alone(self, statement: Callable[[str], str], *args: Any) -> list[asyncpg.Record]:
        """Instead of entering the unit of work: one statement that writes the data and the queued
        events together (``statement(outbox_table)`` gives its SQL; ``outbox_arrays`` its event
        columns), on a pooled connection without BEGIN and COMMIT. A statement is atomic by itself,
        so this saves a transaction's two round trips; after it the relay is woken as after a
        commit."""
        had_events = bool(self._pending)
        connections = kept_connections(self._engine)
        lease = await connections.acquire()
        db = lease.raw.driver_connection
        try:
            rows = await db.fetch(statement(self._outbox.name), *args)
        except BaseException as exc:
            lost = await discard_if_lost(lease.conn, db, exc)
            await connections.release(lease, broken=lost or not isinstance(exc, asyncpg.PostgresError))
            raise
        await connections.release(lease)
        self._pending = []
        if had_events and self._on_commit is not None:
            self._on_commit()
        return rows

    async def store_alone(self, statement: Callable[[str], str], *columns: list[Any]) -> list[asyncpg.Record]:
        """``run_alone`` for a ``stored_with_events_sql`` statement: the rows as ``columns`` (one
        array per column), one queued event per row, emitted in row order; returns the keys stored."""
        if any(len(column) != len(self._pending) for column in columns):
            raise ValueError("one queued event per row")
        return await self.run_alone(statement, *columns, *self.outbox_arrays())

    async def commit(self) -> None:
        await self._store_staged()
        had_events = bool(self._pending)
        await self.flush_events()
        await end_on_driver(self.conn, self._lease.raw, self._transaction, commit=True)
        if had_events and self._on_commit is not None:
            self._on_commit()

    async def savepoint(self):  # noqa: ANN201 - returns SQLAlchemy's nested transaction
        return await self.conn.begin_nested()


@functools.cache
def _claim_many_sql(table: str) -> str:
    return (f'INSERT INTO "{table}" ("group", event_id) SELECT $1::text, unnest($2::uuid[]) '
            "ON CONFLICT DO NOTHING RETURNING event_id")


@functools.cache
def outbox_insert_sql(table: str, first: int = 1, *, join: str = "") -> str:
    """``INSERT`` of outbox rows given as six arrays from parameter ``$first`` on (see
    ``SqlUnitOfWork.outbox_arrays``), in array order (their ``seq`` order). ``join`` may add a
    ``JOIN … ON …`` to keep only some rows; the rows' ordinality is ``u.n``."""
    a, b, c, d, e, f = (f"${first + i}" for i in range(6))
    return (f'INSERT INTO "{table}" (id, topic, key, type, headers, payload) '
            f"SELECT u.i, u.t, u.k, u.ty, u.h::jsonb, u.p FROM unnest({a}::uuid[], {b}::text[], {c}::text[], "
            f"{d}::text[], {e}::text[], {f}::bytea[]) WITH ORDINALITY AS u(i, t, k, ty, h, p, n) {join} "
            "ORDER BY u.n")


def stored_with_events_sql(outbox: str, insert: str, keys: Sequence[tuple[str, str]], first_event: int) -> str:
    """One statement for ``SqlUnitOfWork.store_alone``: ``insert`` (``INSERT … ON CONFLICT DO
    NOTHING`` of rows given as arrays, without ``RETURNING``), then the outbox rows of the rows it
    stored (one queued event per input row, in row order, as arrays from ``$first_event`` on), and
    the keys it stored. ``keys``: each key column with its rows' array parameter, e.g.
    ``("received_event_id", "$3::uuid[]")``; a row left out by the conflict leaves its event out."""
    columns = ", ".join(column for column, _ in keys)
    kept = (f"JOIN (SELECT g.n FROM unnest({', '.join(array for _, array in keys)}) WITH ORDINALITY "
            f"AS g({columns}, n) JOIN stored USING ({columns})) AS kept ON kept.n = u.n")
    return (f"WITH stored AS ({insert} RETURNING {columns}), "
            f"events AS ({outbox_insert_sql(outbox, first_event, join=kept)}) "
            f"SELECT {columns} FROM stored")
