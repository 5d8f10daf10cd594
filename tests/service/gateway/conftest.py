"""The gateway (real PostgreSQL schema, MemoryBus) with fake owning services in its service clients."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
import uvicorn
from meridian.settings import PlatformSettings
from meridian_gateway.app import build

from tests.service.gateway.support import INTERNAL, OPERATOR, Owner
from tests.support.service import TEST_DATABASE_URL, running_service


@asynccontextmanager
async def served(app) -> AsyncIterator[str]:  # noqa: ANN001
    """``app`` served by uvicorn on a free loopback port; yields its base URL (host:port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None,
                                           access_log=False))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.025)
    assert server.started
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture(scope="session")
async def owners():
    """Fake owning services, each served over HTTP (as in distributed mode)."""
    found = {name: Owner(name) for name in ("ingest", "ticket", "routing")}
    async with AsyncExitStack() as stack:
        for owner in found.values():
            owner.url = "http://" + await stack.enter_async_context(served(owner.app))
        yield found


@pytest.fixture(scope="session")
async def gateway(owners):
    platform = PlatformSettings(database_url=TEST_DATABASE_URL, mode="embedded", seed_demo=False,
                                operator_token=OPERATOR, internal_token=INTERNAL)
    async with running_service(build, platform=platform) as svc:
        svc.infra.service_urls.update({name: owner.url for name, owner in owners.items()})
        svc.infra.service_urls["translation"] = "http://127.0.0.1:9"   # an owner that is down
        yield svc


@pytest.fixture
async def gw(gateway, owners):
    await gateway.reset()
    gateway.parts.app.state.gateway.auth.clear()
    for o in owners.values():
        o.gate = None
        o.entered.clear()
    return gateway




@pytest.fixture(scope="session")
async def ws_base(gateway):
    """The gateway app served by uvicorn on a free loopback port (for real WebSocket clients)."""
    async with served(gateway.parts.app) as address:
        yield f"ws://{address}"
