"""The gateway (real PostgreSQL schema, MemoryBus) with fake owning services in its service clients."""

from __future__ import annotations

import httpx
import pytest
from meridian.settings import PlatformSettings
from meridian_gateway.app import build

from tests.service.gateway.support import INTERNAL, OPERATOR, Owner
from tests.support.service import TEST_DATABASE_URL, running_service


@pytest.fixture(scope="session")
async def owners():
    return {name: Owner(name) for name in ("ingest", "ticket", "routing")}


@pytest.fixture(scope="session")
async def gateway(owners):
    platform = PlatformSettings(database_url=TEST_DATABASE_URL, mode="embedded", seed_demo=False,
                                operator_token=OPERATOR, internal_token=INTERNAL)
    async with running_service(build, platform=platform) as svc:
        for name, owner in owners.items():
            svc.infra.service_clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=owner.app),
                                                                base_url=f"http://{name}")
        # an owner that is down
        svc.infra.service_clients["translation"] = httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2)
        try:
            yield svc
        finally:
            for c in svc.infra.service_clients.values():
                await c.aclose()


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
    import asyncio
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(gateway.parts.app, host="127.0.0.1", port=port, lifespan="off",
                                           log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.025)
    assert server.started
    yield f"ws://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 10)
