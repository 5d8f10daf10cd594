"""Statements on the asyncpg connection beneath a unit of work, for the hot paths.

Through SQLAlchemy's AsyncConnection a statement also pays for an execution context, a greenlet
switch, cursor adaptation and result processing: a transaction of three statements took ~890 µs of
CPU that way and ~470 µs on its asyncpg connection (micro-benchmark, same pool). A consumer batch
or a webhook group commit runs a few statements in each of the platform's hops, so the hot
statements run on the driver connection; everything else keeps SQLAlchemy, in the same transaction.

``begin_on_driver`` begins the transaction on the driver connection and hands it to SQLAlchemy's
asyncpg adapter, which commits or rolls it back as its own: statements through either path share it.
``DriverStatement`` compiles a SQLAlchemy Core statement once for asyncpg and runs it there. Its rows
are asyncpg records (columns by name; UUIDs are ``uuid.UUID`` subclasses, JSON arrives as text, and
no SQLAlchemy result processing runs: use it for columns of plain types).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

_DIALECT = asyncpg_dialect()
# what the driver raises when the connection is going or gone; ``is_closed()`` may still be False
# for an error raised while asyncpg is learning that the server dropped the connection. Not
# ``InterfaceError``: asyncpg raises it for a misused connection (a wrong argument count, another
# operation in progress), and for a closed one only once ``is_closed()`` says so.
_LOST = (asyncpg.PostgresConnectionError, asyncpg.InternalClientError, OSError)


async def begin_on_driver(conn: AsyncConnection) -> asyncpg.Connection:
    """Begin ``conn``'s transaction on its asyncpg connection, owned by SQLAlchemy (its commit and
    rollback end it), and return that connection.

    SQLAlchemy's asyncpg adapter (2.x) begins its transaction lazily, at the first statement it
    runs, and keeps it in ``_transaction``; it begins none while one is there. A change of that
    attribute fails here, loudly, rather than leaving raw statements outside the transaction
    (tests/service/libs/test_driver.py)."""
    await conn.begin()
    raw = await conn.get_raw_connection()
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
    return driver


async def discard_if_lost(conn: AsyncConnection, driver: asyncpg.Connection, error: BaseException) -> bool:
    """After ``error``: if ``driver``'s connection is gone (the server restarted or dropped it),
    do what SQLAlchemy does when it sees a disconnect itself: ``conn`` is invalidated, not returned
    to the pool, and so are the pool's older connections, which are likely gone too (the engine's
    pool is replaced; connections checked out now are closed when returned)."""
    if not (driver.is_closed() or isinstance(error, _LOST)):
        return False
    await conn.invalidate()
    await conn.engine.dispose()
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
