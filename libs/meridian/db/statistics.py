"""Planner statistics of a service's own tables, kept fresh by the service itself.

PostgreSQL plans a statement from the statistics ANALYZE gathered. A table never analyzed is
planned as nearly empty, and the plans cached for the services' prepared statements keep that
choice while the table grows: ticket's batch lookup of inbound messages then reads the whole of
``messages`` once per consumer batch (6.5 million rows in 8 s at 500 msgs/s, measured on a server
with autovacuum off). Autovacuum normally analyzes a table once a tenth of it changed, but not on a
server where it is off, and only once a minute by default. So every service checks its schema
every second and analyzes a table that holds more than twice the rows its last ANALYZE saw (plus
the server's ``autovacuum_analyze_threshold``, 50): a growing table is analyzed each time it
doubles, which is what keeps its plans' shape; the finer upkeep stays autovacuum's. Where
autovacuum keeps up, nothing is due and the check is one catalog query. ANALYZE replaces the
statistics, which invalidates the cached plans that used them.

A round analyzes one table, the one that most outgrew its statistics, and the services' rounds
start at random phases: ANALYZE costs PostgreSQL a read of the table and every backend a new plan
for each cached statement on it, and all of a service's tables grow together. Analyzing every due
table of every service at once showed as a 150–300 ms bump in the webhook → WebSocket latency
in both traced distributed runs that recorded when each table was analyzed (``make bench-trace``).

What it saves grows with the tables: without it, on a server with autovacuum off, ticket read
6.5–6.8 million rows of ``messages`` per 8 s at 500 msgs/s ten thousand messages into a run, and
a sequential scan per batch reads the whole table however large it grows.
"""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("meridian.db.statistics")

# the table of the schema that most outgrew its last ANALYZE (by anyone): more than twice the rows
# that ANALYZE saw, plus the server's autovacuum_analyze_threshold. Rows, not changes: a small table
# updated on every message (ticket's conversations) keeps its plans' shape; reltuples is -1 until a
# table is first analyzed
_DUE = text(
    "SELECT format('%I.%I', s.schemaname, s.relname) AS name FROM pg_stat_user_tables AS s "
    "JOIN pg_class AS c ON c.oid = s.relid, "
    "LATERAL (SELECT current_setting('autovacuum_analyze_threshold')::float8 + 2 * greatest(c.reltuples, 0) "
    "AS rows) AS due "
    "WHERE s.schemaname = :schema AND s.n_live_tup > due.rows "
    "ORDER BY s.n_live_tup / due.rows DESC, s.relname LIMIT 1"
)


class StatisticsKeeper:
    """Every ``interval`` seconds (``MERIDIAN_DB_ANALYZE_INTERVAL``; 0 turns it off), analyzes the
    table of ``schema`` that most outgrew its last ANALYZE, if one holds twice the rows it saw."""

    def __init__(self, engine: AsyncEngine, schema: str, *, interval: float) -> None:
        self._engine = engine
        self._schema = schema
        self._interval = interval

    async def run(self) -> None:
        if self._interval <= 0:
            return
        # the services start together: a random phase keeps their rounds, and their ANALYZE, apart
        await asyncio.sleep(random.uniform(0, self._interval))
        while True:
            try:
                await self.analyze_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is away: the next round tries again
                log.warning("checking table statistics failed", extra={"schema": self._schema, "error": repr(exc)})
            await asyncio.sleep(self._interval)

    async def analyze_due(self) -> str | None:
        """Analyze the table most past the rule, if any, now; returns its name (schema-qualified).
        One table a round: an ANALYZE costs PostgreSQL a read of the table and every backend a new
        plan for each cached statement on it, and all of a service's tables grow together."""
        async with self._engine.begin() as conn:
            name = (await conn.execute(_DUE, {"schema": self._schema})).scalar()
            if name is not None:  # quoted by format('%I') above
                await conn.execute(text(f"ANALYZE {name}"))
        if name is not None:
            log.debug("analyzed a table", extra={"schema": self._schema, "table": name})
        return name
