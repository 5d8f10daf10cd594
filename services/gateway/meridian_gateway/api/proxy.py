"""Forwarded public API: ``/api/v1/{resource}/...`` → the owning service; ``/webhooks/{channel}/{inbox_id}``
→ ingest with the raw body. Plain Starlette endpoints (no dependency resolution) to keep the hot path lean."""

from __future__ import annotations

from meridian.http.bodies import read_limited
from starlette.requests import Request
from starlette.responses import Response

from meridian_gateway.api.deps import GatewayState, authenticate
from meridian_gateway.domain.errors import ResourceNotFound
from meridian_gateway.domain.owners import GATEWAY, owner_of_resource
from meridian_gateway.forwarding import Forwarder, api_headers, webhook_headers

API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WEBHOOK_METHODS = ["GET", "POST", "PUT"]


async def forward_api(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    principal = await authenticate(request)
    owner = owner_of_resource(request.path_params["resource"])
    if owner is None or owner == GATEWAY:
        raise ResourceNotFound(f"no API resource at {request.url.path}")
    body = await read_limited(request, state.settings.max_api_body_bytes)
    forwarder = state.forwarder
    headers = api_headers(request.scope["headers"], principal, forwarder.internal_token, Forwarder.traceparent())
    target = Forwarder.target(request)
    method = request.method

    async def call() -> Response:
        return await forwarder.send(owner, method, target, headers, body)

    if method == "POST":
        return await state.idempotency.run(request, principal.tenant_id, body, call)
    return await call()


async def forward_webhook(request: Request) -> Response:
    state: GatewayState = request.app.state.gateway
    body = await read_limited(request, state.settings.max_webhook_bytes)
    forwarder = state.forwarder
    headers = webhook_headers(request.scope["headers"], forwarder.internal_token, Forwarder.traceparent())
    return await forwarder.send("ingest", request.method, Forwarder.target(request), headers, body)
