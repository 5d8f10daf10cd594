"""Harness for service tests: one service, its real PostgreSQL schema, the in-memory bus, an ASGI client.

    @pytest.fixture(scope="session")
    async def ticket():
        async with running_service(build) as svc:
            yield svc

    async def test_x(ticket):
        await ticket.reset()                       # truncate this service's tables
        r = await ticket.client.post("/api/v1/...", headers=ticket.headers(tenant_id))
        await ticket.publish(message, key=..., tenant_id=...)   # an event from another service
        await ticket.drained()
        ticket.events("ticket.messages.v1")         # (meta, message) pairs this service published
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from google.protobuf.message import Message
from meridian.bus.memory import MemoryBus
from meridian.db.engine import make_engine
from meridian.events.envelope import EventMeta, decode, new_meta, to_record
from meridian.events.registry import topic_of
from meridian.http.tenancy import TENANT_HEADER
from meridian.runtime.parts import Infra, ServiceParts
from meridian.settings import PlatformSettings
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

TEST_DATABASE_URL = os.environ.get("MERIDIAN_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def scratch_schema(schema: str, metadata: MetaData) -> AsyncIterator[AsyncEngine]:
    """An engine on a fresh ``schema`` holding ``metadata``'s tables, dropped afterwards."""
    engine = make_engine(TEST_DATABASE_URL, schema)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


@dataclass
class RunningService:
    parts: ServiceParts
    bus: MemoryBus
    client: httpx.AsyncClient
    infra: Infra
    tasks: list[asyncio.Task] = field(default_factory=list)

    @property
    def kit(self):  # noqa: ANN201
        return self.parts.app.state.kit

    def headers(self, tenant_id: uuid.UUID | str, **extra: str) -> dict[str, str]:
        return {TENANT_HEADER: str(tenant_id), **extra}

    async def reset(self) -> None:
        """Truncate every table of this service's schema (the outbox and markers included)."""
        kit = self.kit
        async with kit.engine.begin() as conn:
            names = (await conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename <> 'alembic_version'"),
                {"s": kit.schema})).scalars().all()
            if names:
                joined = ", ".join(f'"{kit.schema}"."{n}"' for n in names)
                await conn.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))
        await self.drained()
        self.bus.trim()

    async def publish(self, message: Message, *, key: str, tenant_id: uuid.UUID | str, topic: str | None = None,
                      source: str = "test") -> EventMeta:
        meta = new_meta(message, tenant_id=str(tenant_id), source=source, key=key)
        await self.bus.publish([to_record(topic or topic_of(message), message, meta)])
        return meta

    async def drained(self, timeout: float = 10.0) -> None:
        """Wait until the outbox is empty and every consumer has caught up (repeats until both hold)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.kit.relay.wake()
            await self.bus.drained(timeout=max(0.1, deadline - loop.time()))
            if await self.kit.relay.pending() == 0:
                await self.bus.drained(timeout=max(0.1, deadline - loop.time()))
                if await self.kit.relay.pending() == 0:
                    return
            if loop.time() > deadline:
                raise TimeoutError("outbox not drained")
            await asyncio.sleep(0.01)

    def events(self, topic: str) -> list[tuple[EventMeta, Message]]:
        return [decode(r) for r in self.bus.records(topic)]


@asynccontextmanager
async def running_service(build: Callable[[Infra], ServiceParts], *, platform: PlatformSettings | None = None,
                          ) -> AsyncIterator[RunningService]:
    platform = platform or PlatformSettings(database_url=TEST_DATABASE_URL, mode="embedded", seed_demo=False)
    bus = MemoryBus()
    infra = Infra(platform=platform, bus=bus)
    parts = build(infra)
    if parts.migrate:
        await parts.migrate()
    for consumer in parts.consumers:
        bus.subscribe(consumer.subscription())
    await bus.start()
    tasks = [asyncio.create_task(t()) for t in parts.tasks]
    transport = httpx.ASGITransport(app=parts.app)
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    svc = RunningService(parts=parts, bus=bus, client=client, infra=infra, tasks=tasks)
    try:
        yield svc
    finally:
        await client.aclose()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.stop()
        if parts.close:
            await parts.close()
