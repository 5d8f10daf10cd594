"""Run a set of services in this process: build, migrate, subscribe, start background tasks.

The embedded runtime runs all of them; ``meridian serve <service>`` runs one. Services are found
through the ``meridian.services`` entry-point group, so adding a service touches no shared file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points

from meridian.runtime.parts import Infra, ServiceParts
from meridian.settings import SERVICE_NAMES

log = logging.getLogger("meridian.runtime")

Builder = Callable[[Infra], ServiceParts]


def discover() -> dict[str, Builder]:
    found = {ep.name: ep for ep in entry_points(group="meridian.services")}
    missing = [n for n in SERVICE_NAMES if n not in found]
    if missing:
        raise RuntimeError(f"services not installed: {', '.join(missing)} (pip install ./services/<name>)")
    # the gateway first: it owns tenants, the others follow in a stable order
    return {name: found[name].load() for name in SERVICE_NAMES} | {
        n: ep.load() for n, ep in found.items() if n not in SERVICE_NAMES
    }


class LocalServices:
    """Services built in this process on one bus."""

    def __init__(self, infra: Infra, names: Iterable[str]) -> None:
        builders = discover()
        self.infra = infra
        self.parts: dict[str, ServiceParts] = {name: builders[name](infra) for name in names}
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        for name, parts in self.parts.items():
            if parts.migrate:
                log.info("migrating", extra={"service": name})
                await parts.migrate()
        for parts in self.parts.values():
            for consumer in parts.consumers:
                self.infra.bus.subscribe(consumer.subscription())
        await self.infra.bus.start()
        for name, parts in self.parts.items():
            for task in parts.tasks:
                self._tasks.append(asyncio.create_task(_supervised(name, task), name=f"{name}:{task.__qualname__}"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.infra.bus.stop()
        for parts in self.parts.values():
            if parts.close:
                await parts.close()


async def _supervised(service: str, task: Callable) -> None:
    """Keep a background task alive: log and restart it after a pause if it crashes."""
    delay = 0.5
    while True:
        try:
            await task()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task crashed; restarting", extra={"service": service})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
