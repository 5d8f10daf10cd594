"""What a service's ``build(infra)`` receives and returns; the runtimes only see these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from meridian.bus.base import Bus
from meridian.bus.consumer import EventConsumer
from meridian.db.outbox import OutboxRelay
from meridian.db.uow import Clock
from meridian.settings import PlatformSettings


@dataclass
class Infra:
    """Shared infrastructure a runtime hands to every service it builds."""

    platform: PlatformSettings
    bus: Bus
    clock: Clock = field(default_factory=Clock)
    # How the gateway reaches the other services' internal HTTP APIs; filled by the runtime once
    # every service is built, read at request time. service name -> its ASGI app when it runs in
    # this process (embedded: called directly), else -> its base URL (distributed).
    service_apps: dict[str, Any] = field(default_factory=dict)
    service_urls: dict[str, str] = field(default_factory=dict)
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
    # the service's outbox relay (also among ``tasks``): the embedded runtime resends through it
    relay: OutboxRelay | None = None
