"""Composition root of the gateway: the only public HTTP server."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from pathlib import Path

from fastapi import Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from meridian.http.problems import problem
from meridian.runtime.parts import Infra, ServiceParts
from meridian.service import ServiceKit

from meridian_gateway.api import api_keys, proxy, tenants, ws
from meridian_gateway.api.deps import GatewayState
from meridian_gateway.auth import ApiKeyAuthenticator
from meridian_gateway.consumers import push_subscription
from meridian_gateway.domain.errors import InvalidCredentials
from meridian_gateway.domain.owners import forwarded_services
from meridian_gateway.fanout import MemoryFanout, RedisFanout
from meridian_gateway.forwarding import Forwarder, InProcessWebhooks
from meridian_gateway.handlers import ensure_demo_tenant
from meridian_gateway.idempotency import IdempotencyStore
from meridian_gateway.openapi import OpenApiMerger
from meridian_gateway.settings import GatewaySettings
from meridian_gateway.tables import outbox, processed_events
from meridian_gateway.uow import GatewayUow

log = logging.getLogger("meridian.gateway")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
PRUNE_INTERVAL = 3600.0
_REPLACED_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def build(infra: Infra, settings: GatewaySettings | None = None) -> ServiceParts:
    settings = settings or GatewaySettings(platform=infra.platform)
    platform = infra.platform
    kit = ServiceKit(name="gateway", schema="gateway", infra=infra, uow_class=GatewayUow, outbox=outbox,
                     processed=processed_events, migrations=MIGRATIONS, pool_size=10)

    operator_token = platform.operator_token
    if not operator_token:
        operator_token = secrets.token_urlsafe(32)
        log.warning("MERIDIAN_OPERATOR_TOKEN is unset; generated operator token: %s", operator_token)

    async def lookup(key_hash: str):  # noqa: ANN202
        async with kit.uow() as uow:
            return await uow.api_keys.find_active_principal(key_hash)

    if platform.redis_url:
        fanout = RedisFanout(platform.redis_url, replay_size=settings.ws_replay_size, queue_size=settings.ws_queue_size)
    else:
        fanout = MemoryFanout(replay_size=settings.ws_replay_size, queue_size=settings.ws_queue_size)
    state = GatewayState(
        settings=settings,
        auth=ApiKeyAuthenticator(lookup, ttl=settings.auth_cache_ttl, size=settings.auth_cache_size),
        forwarder=Forwarder(infra.service_apps, infra.service_urls, platform.internal_token),
        idempotency=IdempotencyStore(kit, ttl=settings.idempotency_ttl,
                                     in_flight_timeout=settings.idempotency_in_flight_timeout),
        fanout=fanout,
        operator_token=operator_token,
    )

    app = kit.app(title="API", description="The public API of Meridian: REST under /api/v1 (bearer API key), "
                                           "channel webhooks under /webhooks, WebSocket pushes at /api/v1/ws.",
                  checks={"redis": fanout.ping} if platform.redis_url else None)
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in _REPLACED_ROUTES]
    app.state.gateway = state
    app.state.operator_token = operator_token

    @app.exception_handler(InvalidCredentials)
    async def _unauthorized(_: Request, exc: InvalidCredentials) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, type_=exc.type,
                       headers={"WWW-Authenticate": 'Bearer realm="meridian"'})

    merger = OpenApiMerger(app.openapi, state.forwarder, forwarded_services(), timeout=settings.openapi_timeout)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document() -> Response:
        return Response(await merger.document(), media_type="application/json")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Meridian API")

    app.include_router(tenants.router, prefix="/api/v1")
    app.include_router(api_keys.router, prefix="/api/v1")
    app.add_api_websocket_route("/api/v1/ws", ws.websocket_endpoint)
    app.add_route("/api/v1/{resource}", proxy.forward_api, methods=proxy.API_METHODS, include_in_schema=False)
    app.add_route("/api/v1/{resource}/{rest:path}", proxy.forward_api, methods=proxy.API_METHODS,
                  include_in_schema=False)
    app.add_route("/webhooks/{channel}/{inbox_id}", proxy.forward_webhook, methods=proxy.WEBHOOK_METHODS,
                  include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())  # matched first: it carries the traffic
    app.add_middleware(InProcessWebhooks, apps=infra.service_apps, internal_token=platform.internal_token,
                       max_body=settings.max_webhook_bytes)

    async def prune_idempotency_keys() -> None:
        while True:
            try:
                n = await state.idempotency.prune()
                if n:
                    log.info("expired idempotency keys pruned", extra={"count": n})
            except Exception as exc:
                log.warning("idempotency prune failed", extra={"error": repr(exc)})
            await asyncio.sleep(PRUNE_INTERVAL)

    tasks = [prune_idempotency_keys]
    if isinstance(fanout, RedisFanout):
        tasks.append(fanout.run)
    parts = kit.parts(app, [push_subscription(fanout, settings.ws_max_event_age)], tasks=tasks,
                      seed=functools.partial(ensure_demo_tenant, kit))
    engine_close = parts.close

    async def close() -> None:
        await fanout.close()
        await state.forwarder.close()
        if engine_close is not None:
            await engine_close()

    parts.close = close
    return parts
