"""Alembic per service: the version table and every table live in the service's own schema.

A service's ``migrations/env.py`` is two lines::

    from meridian.db.migrate import run_env
    from meridian_ticket.tables import metadata
    run_env(metadata, schema="ticket")

``upgrade()`` runs at service start (under an advisory lock, so two processes don't race);
``scripts/migration.py`` creates new revisions with autogenerate.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from meridian.db.engine import async_url


def alembic_config(script_location: Path, schema: str, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["schema"] = schema
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade_sync(conn: Connection, script_location: Path, schema: str) -> None:
    command.upgrade(alembic_config(script_location, schema, conn), "head")


async def with_connection(database_url: str, schema: str, fn, *args) -> None:  # noqa: ANN001
    """Run ``fn(sync_connection, *args)`` inside one transaction holding the schema's migration lock."""
    engine = create_async_engine(async_url(database_url), poolclass=pool.NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                               {"k": zlib.crc32(f"migrate.{schema}".encode())})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.run_sync(fn, *args)
    finally:
        await engine.dispose()


async def upgrade(database_url: str, schema: str, script_location: Path) -> None:
    await with_connection(database_url, schema, _upgrade_sync, script_location, schema)


def run_env(metadata: MetaData, schema: str) -> None:
    """Body of every service's migrations/env.py."""
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through meridian.db.migrate (upgrade) or scripts/migration.py")
    _configure_and_run(connection, metadata, schema)


def _not_alembic_version(name: str | None, type_: str, parent_names: dict) -> bool:
    """Autogenerate compares the service's tables only, not Alembic's own version table."""
    return not (type_ == "table" and name == "alembic_version")


def _configure_and_run(conn: Connection, metadata: MetaData, schema: str) -> None:
    conn.execute(text(f'SET LOCAL search_path TO "{schema}", public'))
    context.configure(
        connection=conn,
        target_metadata=metadata,
        version_table_schema=schema,
        compare_type=True,
        include_name=_not_alembic_version,
    )
    with context.begin_transaction():
        context.run_migrations()
