"""Serving a runtime's public app until SIGTERM or SIGINT, then returning, so that the runtime's own
cleanup runs: consumers leave their groups, the outbox relay stops, the embedded PostgreSQL shuts down.

uvicorn on its own re-raises a signal it caught once it has stopped listening, which ends the process
before any ``finally`` of the caller runs (it left ``make run``'s PostgreSQL server behind as an
orphan). Here the runtime owns the signals from its first step, so one that arrives while the platform
is still starting is honoured as soon as the start completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, NamedTuple

import uvicorn

from meridian.runtime import heap
from meridian.settings import PlatformSettings

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`stop_signals`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def stop_signals() -> AsyncIterator[asyncio.Event]:
    """An event set by the first SIGTERM or SIGINT received while the block runs."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stopping.set)
    try:
        yield stopping
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def serve_until_stopped(app: Any, platform: PlatformSettings, stopping: asyncio.Event,
                              after_listening: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve ``app`` on the platform's host and port until ``stopping`` is set (or the server fails).
    ``after_listening`` (the banner, the demo seed) runs beside it and is cancelled on stop."""
    config = uvicorn.Config(app, host=platform.host, port=platform.port, log_config=None, lifespan="off",
                            access_log=False)
    # bound here, not in the server's task: a port already in use ends the runtime through its own
    # stop (uvicorn logs the error and raises SystemExit), where inside the task it left the process hung
    listening = config.bind_socket()
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    stop = asyncio.create_task(stopping.wait())

    async def once_listening(after: Callable[[], Awaitable[None]]) -> None:
        while not server.started:  # set once the socket is bound: the banner says it listens
            if serving.done():
                return
            await asyncio.sleep(0.01)
        await after()

    extra = asyncio.create_task(once_listening(after_listening)) if after_listening is not None else None
    try:
        await asyncio.wait({serving, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        for task in (stop, extra):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (stop, extra) if t is not None), return_exceptions=True)
        await serving


class Started(NamedTuple):
    """What a started runtime serves: its public app, on the platform's host and port, and what runs
    beside it once it listens (``serve_until_stopped``)."""

    app: Any
    platform: PlatformSettings
    after_listening: Callable[[], Awaitable[None]] | None = None


async def run_until_stopped(start: Callable[[], Awaitable[Started]], stop: Callable[[], Awaitable[None]]) -> None:
    """A runtime's life, the same in every mode: start it, freeze the startup heap (``heap.settle``),
    serve until SIGTERM or SIGINT, then stop it, also when the start failed or a signal came during
    it."""
    async with stop_signals() as stopping:
        try:
            started = await start()
            heap.settle()
            if not stopping.is_set():
                await serve_until_stopped(started.app, started.platform, stopping, started.after_listening)
        finally:
            await stop()
