"""Every route and route dependency of every service is a coroutine function. FastAPI runs a plain
``def`` one in its thread pool: a thread hand-off per request, on every webhook and API call."""

from __future__ import annotations

import inspect

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from meridian.bus.memory import MemoryBus
from meridian.runtime.parts import Infra
from meridian.runtime.platform import discover
from meridian.settings import PlatformSettings


def _calls(dependant: Dependant):  # noqa: ANN202
    for dep in dependant.dependencies:
        if dep.call is not None:
            yield dep.call
        yield from _calls(dep)


def _api_routes(routes):  # noqa: ANN001, ANN202
    """Every APIRoute, also those of included routers (which FastAPI keeps nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def test_no_route_dependency_runs_in_the_thread_pool():
    platform = PlatformSettings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none")
    infra = Infra(platform=platform, bus=MemoryBus())
    sync: set[str] = set()
    routes = 0
    for name, build in discover().items():
        app = build(infra).app
        for route in _api_routes(app.routes):
            routes += 1
            sync |= {f"{name}: {c.__module__}.{c.__qualname__}" for c in [route.endpoint, *_calls(route.dependant)]
                     if not inspect.iscoroutinefunction(c)}
    assert routes > 30
    assert not sync, sorted(sync)
