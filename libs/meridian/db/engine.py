"""Engines: one per service, bound to the service's own PostgreSQL schema.

Every connection of a service's engine has ``search_path = "<schema>", public``: statements name
tables without a schema, as the migrations do (meridian.db.migrate). SQLAlchemy's
``schema_translate_map`` did the same by rewriting each statement's text with a regular expression
at every execution: for ticket's inbound lookup (a large CTE) ~90 of ~440 µs of CPU per execution
in a micro-benchmark.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def async_url(url: str) -> str:
    """Accept postgres:// and postgresql:// URLs and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    return url


def driver_url(url: str) -> str:
    """The DSN asyncpg itself takes for a service URL (``async_url``'s inverse)."""
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)


def make_engine(url: str, schema: str, *, pool_size: int = 5, max_overflow: int = 10) -> AsyncEngine:
    """No ping before each checkout (``pool_pre_ping`` costs a transaction, i.e. three round trips,
    per unit of work): a connection the server dropped fails its first use, SQLAlchemy then discards
    the pool's older connections, and the caller's retry (consumers, the webhook group commit) gets a
    fresh one. Connections are also replaced after 30 minutes."""
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": f"meridian-{schema}",
                                          "search_path": f'"{schema}", public'}},
    )
