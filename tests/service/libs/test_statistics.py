"""A service analyzes the tables of its schema that doubled since their last ANALYZE, whatever
autovacuum does."""

from __future__ import annotations

import pytest
from meridian.db.naming import service_metadata
from meridian.db.statistics import StatisticsKeeper
from sqlalchemy import Column, Integer, MetaData, Table, insert, text

from tests.support.service import scratch_schema

SCHEMA = "libs_statistics"
metadata: MetaData = service_metadata()
busy = Table("busy", metadata, Column("id", Integer, primary_key=True))
quiet = Table("quiet", metadata, Column("id", Integer, primary_key=True))


@pytest.fixture
async def engine():
    async with scratch_schema(SCHEMA, metadata) as engine:
        yield engine


async def _insert(engine, table: Table, count: int, *, first: int = 0) -> None:  # noqa: ANN001
    async with engine.begin() as conn:
        await conn.execute(insert(table), [{"id": first + i} for i in range(count)])
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))  # the counters, at commit


async def _analyzed(engine, table: str) -> bool:  # noqa: ANN001
    async with engine.connect() as conn:
        return await conn.scalar(text(
            "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE schemaname = :schema AND relname = :table"), {"schema": SCHEMA, "table": table})


async def test_tables_that_doubled_since_their_last_analyze_are_analyzed(engine):
    keeper = StatisticsKeeper(engine, SCHEMA, interval=5)
    await _insert(engine, busy, 200)   # due: over 50 rows, and never analyzed (0 rows seen)
    await _insert(engine, quiet, 20)

    assert await keeper.analyze_due() == f"{SCHEMA}.busy"
    assert await _analyzed(engine, "busy")
    assert not await _analyzed(engine, "quiet")
    assert await keeper.analyze_due() is None

    # analyzed at 200 rows, busy is due again past 50 + 2 * 200 = 450 rows: when it has doubled
    await _insert(engine, busy, 240, first=1000)
    assert await keeper.analyze_due() is None
    await _insert(engine, busy, 20, first=2000)
    assert await keeper.analyze_due() == f"{SCHEMA}.busy"


async def test_updates_alone_do_not_make_a_table_due(engine):
    keeper = StatisticsKeeper(engine, SCHEMA, interval=5)
    await _insert(engine, busy, 200)
    assert await keeper.analyze_due() == f"{SCHEMA}.busy"
    for _ in range(3):  # 600 changed rows, the same 200 rows
        async with engine.begin() as conn:
            await conn.execute(text(f"UPDATE {SCHEMA}.busy SET id = id + 100000"))
            await conn.execute(text("SELECT pg_stat_force_next_flush()"))
    assert await keeper.analyze_due() is None


async def test_one_table_a_round_the_most_outgrown_first(engine):
    keeper = StatisticsKeeper(engine, SCHEMA, interval=5)
    await _insert(engine, busy, 100)
    await _insert(engine, quiet, 300)
    assert await keeper.analyze_due() == f"{SCHEMA}.quiet"   # 300 changed rows against 100
    assert not await _analyzed(engine, "busy")
    assert await keeper.analyze_due() == f"{SCHEMA}.busy"
    assert await keeper.analyze_due() is None


async def test_the_planner_learns_the_tables_size(engine):
    """What it is for: a table analyzed while empty is planned as empty; after the keeper's round
    the planner knows its rows."""
    keeper = StatisticsKeeper(engine, SCHEMA, interval=5)
    await _insert(engine, busy, 5000)
    await keeper.analyze_due()
    async with engine.connect() as conn:
        assert await conn.scalar(text(
            "SELECT reltuples FROM pg_class WHERE oid = 'libs_statistics.busy'::regclass")) == 5000


async def test_off_when_the_interval_is_zero(engine):
    await StatisticsKeeper(engine, SCHEMA, interval=0).run()  # returns at once instead of looping
