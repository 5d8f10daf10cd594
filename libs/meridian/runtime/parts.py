"""What a service's ``build(infra)`` receives and returns; the runtimes only see these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from meridian.bus.base import Bus
from meridian.bus.consumer import EventConsumer
from meridian.db.uow import Clock
from meridian.settings import PlatformSettings


@dataclass
class Infra:
    """Shared infrastructure a runtime hands to every service it builds."""

    platform: PlatformSettings
    bus: Bus
    clock: Clock = field(default_factory=Clock)
    # service name -> client of that service's internal HTTP API (ASGI in-process when embedded);
    # filled by the runtime once every service is built, read at request time by the gateway.
    service_clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    # service name -> that service's ASGI app, for services running in this process (embedded):
    # the gateway forwards to them by calling the app directly (no HTTP client in between)
    service_apps: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServiceParts:
    name: str
    app: FastAPI
    consumers: list[EventConsumer] = field(default_factory=list)
    # long-running coroutines started after migrations (outbox relay, delivery worker, …)
    tasks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    migrate: Callable[[], Awaitable[None]] | None = None
    close: Callable[[], Awaitable[None]] | None = None
    # called once the whole platform runs; gets the platform's gateway base URL/clients to seed demo data
    seed: Callable[..., Awaitable[Any]] | None = None
