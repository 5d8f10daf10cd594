"""Statements on the asyncpg connection beneath a unit of work, for the hot paths.

Through SQLAlchemy's AsyncConnection a statement also pays for an execution context, a greenlet
switch, cursor adaptation and result processing: a transaction of three statements took ~890 µs of
CPU that way and ~470 µs on its asyncpg connection (micro-benchmark, same pool). A consumer batch
or a webhook group commit runs a few statements in each of the platform's hops, so the hot
statements run on the driver connection; everything else keeps SQLAlchemy, in the same transaction.

``begin_on_driver`` begins the transaction on the driver connection and hands it to SQLAlchemy's
asyncpg adapter: statements through either path share it, and ``end_on_driver`` ends it.
``KeptConnections`` keeps a few idle connections of an engine checked out between units of work.
``DriverStatement`` compiles a SQLAlchemy Core statement once for asyncpg and runs it there. Its rows
are asyncpg records (columns by name; UUIDs are ``uuid.UUID`` subclasses, JSON arrives as text, and
no SQLAlchemy result processing runs: use it for columns of plain types).
"""

from __future__ import annotations

import contextlib
import time
import weakref
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_DIALECT = asyncpg_dialect()
# what the driver raises when the connection is going or gone; ``is_closed()`` may still be False
# for an error raised while asyncpg is learning that the server dropped the connection. Not
# ``InterfaceError``: asyncpg raises it for a misused connection (a wrong argument count, another
# operation in progress), and for a closed one only once ``is_closed()`` says so.
_LOST = (asyncpg.PostgresConnectionError, asyncpg.InternalClientError, OSError)


class Lease(NamedTuple):
    """A connection checked out of a service's engine: SQLAlchemy's, and the pooled one beneath it
    (``raw.driver_connection`` is the asyncpg connection, ``raw.dbapi_connection`` SQLAlchemy's
    adapter around it)."""

    conn: AsyncConnection
    raw: Any
    since: float


class KeptConnections:
    """Up to ``keep`` idle connections of one engine kept checked out between units of work.

    A checkout from SQLAlchemy's pool and its check-in cost ~105 µs of CPU (greenlet switches,
    pool events), paid by every consumer batch and webhook group commit, so by nearly every
    message when messages come one at a time. A lease from here costs a list pop. A connection
    that failed, or is older than the pool's recycle time, is closed instead of kept; when the
    server dropped a connection, the idle ones go too (``discard_if_lost``)."""

    def __init__(self, engine: AsyncEngine, keep: int = 4, recycle: float = 1800.0) -> None:
        self._engine = engine
        self._keep = keep
        self._recycle = recycle
        self._idle: list[Lease] = []

    async def acquire(self) -> Lease:
        while self._idle:
            lease = self._idle.pop()
            if self._usable(lease):
                return lease
            await self._drop(lease)
        conn = await self._engine.connect()
        try:
            raw = await conn.get_raw_connection()
        except BaseException:
            await conn.close()
            raise
        return Lease(conn, raw, time.monotonic())

    async def release(self, lease: Lease, *, broken: bool = False) -> None:
        """Keep ``lease`` for the next unit of work, or give it back to the pool; ``broken`` (its
        state is unknown, e.g. a statement was cancelled halfway) closes it for good."""
        if broken or lease.conn.in_transaction() or lease.raw.dbapi_connection._transaction is not None:
            await self._drop(lease)
        elif len(self._idle) < self._keep and self._usable(lease):
            self._idle.append(lease)
        else:
            await lease.conn.close()

    async def discard_idle(self) -> None:
        idle, self._idle = self._idle, []
        for lease in idle:
            await self._drop(lease)

    @staticmethod
    async def _drop(lease: Lease) -> None:
        """Close ``lease`` for good: never back into the pool, whatever state it is in."""
        with contextlib.suppress(Exception):
            await lease.conn.invalidate()
        with contextlib.suppress(Exception):
            await lease.conn.close()

    def _usable(self, lease: Lease) -> bool:
        return not (lease.conn.closed or lease.conn.invalidated or lease.raw.driver_connection.is_closed()) \
            and time.monotonic() - lease.since < self._recycle


_KEPT: weakref.WeakKeyDictionary[AsyncEngine, KeptConnections] = weakref.WeakKeyDictionary()


def kept_connections(engine: AsyncEngine) -> KeptConnections:
    """The engine's ``KeptConnections`` (one per engine, made on first use)."""
    kept = _KEPT.get(engine)
    if kept is None:
        kept = _KEPT[engine] = KeptConnections(engine)
    return kept


async def begin_on_driver(conn: AsyncConnection, raw: Any) -> asyncpg.transaction.Transaction:
    """Begin a transaction on ``raw``'s asyncpg connection and hand it to SQLAlchemy's asyncpg
    adapter, so that ``conn``'s statements run in it too; ``end_on_driver`` ends it.

    SQLAlchemy's asyncpg adapter (2.x) begins its transaction lazily, at the first statement it
    runs, and keeps it in ``_transaction``; it begins none while one is there. A change of that
    attribute fails here, loudly, rather than leaving raw statements outside the transaction
    (tests/service/libs/test_driver.py). No SQLAlchemy transaction is begun: SQLAlchemy begins its
    own (without a round trip) only if a statement runs through ``conn``, and its commit then ends
    this one; begun here as well it cost a greenlet switch at each end of every transaction."""
    adapter = raw.dbapi_connection
    if getattr(adapter, "_transaction", "missing") is not None:
        raise RuntimeError("SQLAlchemy's asyncpg adapter has no idle _transaction: begin_on_driver needs updating")
    driver: asyncpg.Connection = raw.driver_connection
    try:
        transaction = driver.transaction()
        await transaction.start()
    except BaseException as exc:
        await discard_if_lost(conn, driver, exc)
        raise
    adapter._transaction = transaction
    return transaction


async def end_on_driver(conn: AsyncConnection, raw: Any, transaction: asyncpg.transaction.Transaction, *,
                        commit: bool) -> None:
    """Commit or roll back what ``begin_on_driver`` began: through SQLAlchemy if a statement of
    ``conn`` made it begin its own (ending it ends the adapter's, this one), else on the driver.
    Nothing to do when it has ended already."""
    if conn.in_transaction():
        await (conn.commit() if commit else conn.rollback())
        return
    adapter = raw.dbapi_connection
    if adapter._transaction is not transaction:
        return
    try:
        await (transaction.commit() if commit else transaction.rollback())
    finally:
        adapter._transaction = None


async def discard_if_lost(conn: AsyncConnection, driver: asyncpg.Connection, error: BaseException) -> bool:
    """After ``error``: if ``driver``'s connection is gone (the server restarted or dropped it),
    do what SQLAlchemy does when it sees a disconnect itself: ``conn`` is invalidated, not returned
    to the pool, and so are the pool's older connections, which are likely gone too (the engine's
    pool is replaced; connections checked out now are closed when returned)."""
    if not (driver.is_closed() or isinstance(error, _LOST)):
        return False
    await conn.invalidate()
    await conn.engine.dispose()
    await kept_connections(conn.engine).discard_idle()
    return True


class DriverStatement:
    """A SQLAlchemy Core statement compiled once for asyncpg (``$n`` parameters, bind casts), run on
    the driver connection with its bind parameters by name, as SQLAlchemy would take them."""

    __slots__ = ("sql", "_names", "_defaults")

    def __init__(self, statement: Any) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        self.sql: str = compiled.string
        self._names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._defaults: dict[str, Any] = {n: b.effective_value for n, b in compiled.binds.items() if not b.required}

    def args(self, params: dict[str, Any]) -> list[Any]:
        try:
            return [params[n] if n in params else self._defaults[n] for n in self._names]
        except KeyError as missing:
            raise ValueError(f"bind parameter {missing} has no value") from None

    async def fetch(self, db: asyncpg.Connection, params: dict[str, Any]) -> list[asyncpg.Record]:
        return await db.fetch(self.sql, *self.args(params))
