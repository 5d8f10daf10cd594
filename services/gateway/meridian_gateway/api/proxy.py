"""Forwarded public API: ``/api/v1/{resource}/...`` → the owning service; ``/webhooks/{channel}/{inbox_id}``
→ ingest with the raw body. Plain Starlette endpoints (no dependency resolution) to keep the hot path lean.

Webhooks carry the platform's throughput: ``GatewayApp`` (app.py) answers them with ``webhook_endpoint``,
a plain ASGI callable past FastAPI's middleware stack, router and per-request span. The trace context
forwarded is the caller's ``traceparent`` or, when it sent none, a new one. ``forward_webhook`` is the
same thing as a routed endpoint (reached only if the fast path is bypassed).
"""

from __future__ import annotations

import re

from meridian.errors import DomainError
from meridian.http.problems import problem
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from meridian_gateway.api.deps import GatewayState, authenticate
from meridian_gateway.domain.errors import ResourceNotFound
from meridian_gateway.domain.owners import GATEWAY, owner_of_resource
from meridian_gateway.forwarding import (Forwarder, api_headers, new_traceparent, read_limited, receive_limited,
                                         target_of, webhook_headers)

API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WEBHOOK_METHODS = ["GET", "POST", "PUT"]
WEBHOOK_PATH = "/webhooks/{channel}/{inbox_id}"
WEBHOOK_PATH_RE = re.compile(r"^/webhooks/[^/]+/[^/]+$")  # WEBHOOK_PATH as Starlette compiles it


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


async def webhook_endpoint(state: GatewayState, scope: Scope, receive: Receive, send: Send) -> None:
    """``forward_webhook`` as a plain ASGI endpoint: DomainErrors become problem+json here."""
    raw = scope["headers"]
    try:
        declared = next((v for n, v in raw if n.lower() == b"content-length"), None)
        body = await receive_limited(receive, declared, state.settings.max_webhook_bytes)
        forwarder = state.forwarder
        headers = webhook_headers(raw, forwarder.internal_token, new_traceparent())
        status, response_headers, content = await forwarder.exchange("ingest", scope["method"], target_of(scope),
                                                                     headers, body)
    except DomainError as exc:
        await problem(exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors)(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": content})
