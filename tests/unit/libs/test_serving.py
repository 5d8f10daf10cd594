"""What runs once the platform listens (the banner: "Meridian listens on …") runs only once the
server's socket takes connections, so a script that waits for the banner can connect at once."""

from __future__ import annotations

import asyncio

from meridian.runtime.serving import serve_until_stopped
from meridian.settings import PlatformSettings

from tests.support.broker import free_port


async def test_after_listening_runs_once_the_socket_takes_connections():
    platform = PlatformSettings(port=free_port())
    stopping = asyncio.Event()
    connected: list[bool] = []

    async def app(scope, receive, send):  # noqa: ANN001
        pass

    async def after_listening() -> None:
        try:
            _, writer = await asyncio.open_connection(platform.host, platform.port)
            writer.close()
            connected.append(True)
        except OSError:
            connected.append(False)
        stopping.set()

    await asyncio.wait_for(serve_until_stopped(app, platform, stopping, after_listening), 30)
    assert connected == [True]


async def test_a_port_in_use_ends_the_runtime_at_once():
    """uvicorn exits when it cannot bind; inside the server's task that left a service process hung
    (seen with two gateways of `run-distributed` and a port taken). Now it surfaces to the caller."""
    import socket

    import pytest

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        platform = PlatformSettings(port=taken.getsockname()[1])

        async def app(scope, receive, send):  # noqa: ANN001
            pass

        with pytest.raises(SystemExit):
            await serve_until_stopped(app, platform, asyncio.Event())
