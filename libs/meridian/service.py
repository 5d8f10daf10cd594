"""ServiceKit: what every service's composition root needs — engine on its schema, unit of work,
outbox relay, event consumers, migrations, health checks, fresh planner statistics — so
``app.py::build`` stays short."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from meridian.bus.consumer import EventConsumer, EventSubscription
from meridian.db.engine import make_engine
from meridian.db.migrate import upgrade
from meridian.db.outbox import OutboxRelay
from meridian.db.statistics import StatisticsKeeper
from meridian.db.uow import SqlUnitOfWork
from meridian.http import problems
from meridian.http.health import Check, health_router
from meridian.runtime.parts import Infra, ServiceParts
from meridian.telemetry import TraceContextMiddleware

U = TypeVar("U", bound=SqlUnitOfWork)
R = TypeVar("R")


class ServiceKit:
    def __init__(self, *, name: str, schema: str, infra: Infra, uow_class: type[SqlUnitOfWork], outbox: Table,
                 processed: Table, migrations: Path, pool_size: int = 5) -> None:
        if not infra.platform.database_url:
            raise RuntimeError("MERIDIAN_DATABASE_URL is not set")
        self.name = name
        self.schema = schema
        self.infra = infra
        self.bus = infra.bus
        self.clock = infra.clock
        self.engine: AsyncEngine = make_engine(infra.platform.database_url, schema, pool_size=pool_size)
        self.relay = OutboxRelay(self.engine, outbox, infra.bus, schema)
        self.statistics = StatisticsKeeper(self.engine, schema, interval=infra.platform.db_analyze_interval)
        self._uow_class = uow_class
        self._outbox = outbox
        self._processed = processed
        self._migrations = migrations

    def uow(self) -> Any:
        return self._uow_class(self.engine, outbox=self._outbox, processed=self._processed, source=self.name,
                               data_region=self.infra.platform.data_region, clock=self.clock,
                               on_commit=self.relay.wake)

    async def execute(self, handler: Callable[[Any, Any], Awaitable[R]], cmd: Any) -> R:
        """Run a use case in one transaction: data and outbox rows commit together."""
        async with self.uow() as uow:
            result = await handler(cmd, uow)
            await uow.commit()
            return result

    async def read(self, query: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """Run a read-only query ``query(uow, *args)`` (rolled back at the end)."""
        async with self.uow() as uow:
            return await query(uow, *args, **kwargs)

    async def migrate(self) -> None:
        assert self.infra.platform.database_url
        await upgrade(self.infra.platform.database_url, self.schema, self._migrations)

    async def db_ready(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    def app(self, *, title: str, description: str = "", checks: dict[str, Check] | None = None) -> FastAPI:
        """The service's FastAPI app with its problem+json errors, tracing, /healthz and /readyz: ready
        while its database and ``checks`` (e.g. the gateway's Redis) answer; the bus is reported only."""
        # tracing by our own lean middleware (see TraceContextMiddleware), not FastAPI's telemetry
        app = FastAPI(title=f"Meridian {title}", description=description, version="1.0.0",
                      telemetry={"tracing": False, "metrics": False, "logs": False})
        app.add_middleware(TraceContextMiddleware)
        problems.install(app)
        app.include_router(health_router({"database": self.db_ready, **(checks or {})},
                                         informational={"bus": self.bus.ping}))
        app.state.kit = self
        app.state.internal_token = self.infra.platform.internal_token
        return app

    def parts(self, app: FastAPI, subscriptions: Sequence[EventSubscription] = (),
              tasks: Sequence[Callable[[], Awaitable[None]]] = (), seed: Callable[..., Awaitable[Any]] | None = None
              ) -> ServiceParts:
        consumers = [EventConsumer(s, self.bus, self.uow if s.uses_db else None) for s in subscriptions]
        return ServiceParts(name=self.name, app=app, consumers=consumers,
                            tasks=[self.relay.run, self.statistics.run, *tasks], migrate=self.migrate,
                            close=self.engine.dispose, seed=seed, relay=self.relay)


async def _kit(request: Request) -> ServiceKit:
    return request.app.state.kit


ServiceDep = Annotated[ServiceKit, Depends(_kit)]
