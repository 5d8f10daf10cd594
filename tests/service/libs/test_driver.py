"""Statements on the driver connection share the unit of work's transaction with SQLAlchemy's."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from meridian.db.driver import DriverStatement
from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from meridian.db.uow import Clock, SqlUnitOfWork
from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, func, insert, literal, select
from sqlalchemy.dialects.postgresql import UUID

from tests.support.service import scratch_schema

SCHEMA = "libs_driver"
metadata: MetaData = service_metadata()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
notes = Table("notes", metadata, Column("id", UUID(as_uuid=True), primary_key=True), Column("text", Text),
              Column("n", Integer))

_ADD = DriverStatement(insert(notes).values(id=bindparam("id", type_=UUID(as_uuid=True)), text=bindparam("text"),
                                            n=literal(7)).returning(notes.c.id, notes.c.n))
_COUNT = select(func.count()).select_from(notes)


@pytest.fixture
async def engine():
    async with scratch_schema(SCHEMA, metadata) as engine:
        yield engine


def _uow(engine) -> SqlUnitOfWork:  # noqa: ANN001
    return SqlUnitOfWork(engine, outbox=outbox, processed=processed, source="test", data_region="eu", clock=Clock())


async def _count(engine) -> int:  # noqa: ANN001
    async with engine.connect() as conn:
        return int(await conn.scalar(_COUNT))


async def test_driver_and_sqlalchemy_statements_commit_together(engine):
    async with _uow(engine) as uow:
        [row] = await _ADD.fetch(uow.db, {"id": uuid.uuid4(), "text": "raw"})
        assert row["n"] == 7 and isinstance(row["id"], uuid.UUID)
        await uow.conn.execute(insert(notes).values(id=uuid.uuid4(), text="orm", n=1))
        # both statements see each other: one transaction
        assert await uow.conn.scalar(_COUNT) == 2
        assert await _count(engine) == 0  # nothing visible outside before commit
        await uow.commit()
    assert await _count(engine) == 2


async def test_driver_and_sqlalchemy_statements_roll_back_together(engine):
    async with _uow(engine) as uow:
        await _ADD.fetch(uow.db, {"id": uuid.uuid4(), "text": "raw"})
        await uow.conn.execute(insert(notes).values(id=uuid.uuid4(), text="orm", n=1))
    assert await _count(engine) == 0  # left without commit: both undone
    async with _uow(engine) as uow:  # and the pooled connection is clean for the next unit of work
        await _ADD.fetch(uow.db, {"id": uuid.uuid4(), "text": "again"})
        await uow.commit()
    assert await _count(engine) == 1


async def test_a_savepoint_inside_the_driver_transaction(engine):
    async with _uow(engine) as uow:
        await _ADD.fetch(uow.db, {"id": uuid.uuid4(), "text": "kept"})
        savepoint = await uow.savepoint()
        await _ADD.fetch(uow.db, {"id": uuid.uuid4(), "text": "undone"})
        await savepoint.rollback()
        await uow.commit()
    assert await _count(engine) == 1


def test_a_missing_bind_parameter_is_an_error():
    with pytest.raises(ValueError, match="text"):
        _ADD.args({"id": uuid.uuid4()})


async def test_a_misused_statement_fails_alone_and_keeps_the_pool(engine):
    """asyncpg raises InterfaceError for a statement given the wrong arguments: the connection is
    fine, so the pool is not thrown away as it is when the database drops connections."""
    pool = engine.pool
    with pytest.raises(asyncpg.InterfaceError):
        async with _uow(engine) as uow:
            await uow.db.execute("SELECT $1::int", 1, 2)
    assert engine.pool is pool
    assert await _count(engine) == 0


async def test_units_of_work_keep_a_connection_between_them_and_leave_it_clean(engine):
    """A unit of work takes the connection the last one released (no checkout from SQLAlchemy's
    pool), rolled back and usable whatever the last one did: failed, or timed out mid-statement."""
    async with _uow(engine) as first:
        kept = first.db
        await first.commit()
    with pytest.raises(ValueError):
        async with _uow(engine) as failing:
            assert failing.db is kept
            await _ADD.fetch(failing.db, {"id": uuid.uuid4(), "text": "undone"})
            raise ValueError("the handler failed")
    with pytest.raises(TimeoutError):
        async with _uow(engine) as slow:
            await asyncio.wait_for(slow.db.fetch("SELECT pg_sleep(10)"), 0.2)
    async with _uow(engine) as after:
        await _ADD.fetch(after.db, {"id": uuid.uuid4(), "text": "kept"})
        await after.commit()
    assert await _count(engine) == 1
