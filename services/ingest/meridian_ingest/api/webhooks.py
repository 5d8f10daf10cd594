"""Channel webhooks: ``POST /webhooks/{channel}/{inbox_id}`` (public through the gateway, raw body).

Checks, in order: body over the limit → 413 (Content-Length, then counted while streaming; never more
than limit+1 bytes buffered); unknown channel/inbox → 404; signature → 401; UTF-8, JSON, fields →
400; then the group-committed acceptance → 202 accepted | duplicate.

This route carries the platform's throughput, so ``IngestApp`` (app.py) answers it with
``webhook_endpoint``, a plain ASGI callable: no middleware stack, no dependency resolution, no
per-request span (the event's trace context is the request's ``traceparent``). The FastAPI route below
documents the endpoint in the OpenAPI document and runs the same code if it is ever reached.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from meridian.errors import DomainError
from meridian.http.problems import problem
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from meridian_ingest.api.deps import IngestDep, IngestState
from meridian_ingest.channels import ADAPTERS
from meridian_ingest.domain.errors import BodyTooLarge, InboxNotFound

router = APIRouter(tags=["webhooks"])

PATH = re.compile(r"^/webhooks/(?P<channel>[^/]+)/(?P<inbox_id>[^/]+)$")  # as Starlette compiles the route


def new_traceparent() -> str:
    """A new root trace context (sampled), for a request that brought none."""
    return f"00-{random.getrandbits(128) or 1:032x}-{random.getrandbits(64) or 1:016x}-01"


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"body is larger than {limit} bytes")


def _check_declared(declared: str | None, limit: int) -> None:
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size > limit:
            raise _too_large(limit)


async def read_limited(request: Request, limit: int) -> bytes:
    _check_declared(request.headers.get("content-length"), limit)
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise _too_large(limit)
        body += chunk
    return bytes(body)


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """``read_limited`` on the raw ASGI channel."""
    _check_declared(declared, limit)
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):  # the usual: one message
        body = message.get("body", b"")
        if len(body) > limit:
            raise _too_large(limit)
        return body
    buffer = bytearray()
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if len(buffer) + len(chunk) > limit:
            raise _too_large(limit)
        buffer += chunk
        if not message.get("more_body", False):
            return bytes(buffer)
        message = await receive()


async def accept(ingest: IngestState, channel: str, inbox_id: str, headers: Mapping[str, str], body: bytes,
                 traceparent: str) -> dict[str, Any]:
    """Everything after the size check: 404, 401, 400, then the group commit. The 202 body."""
    adapter = ADAPTERS.get(channel)
    try:
        inbox_uuid = UUID(inbox_id)
    except ValueError:
        inbox_uuid = None
    inbox = await ingest.inboxes.get(inbox_uuid) if adapter is not None and inbox_uuid is not None else None
    if inbox is None or inbox.channel != channel:
        raise InboxNotFound("no such inbox")
    adapter.verify(inbox.secret, headers, body)
    message = adapter.parse(body)
    accepted = await ingest.batcher.submit(inbox, message, traceparent=traceparent)
    return {"status": "accepted" if accepted else "duplicate", "id": message.external_id}


async def webhook_endpoint(ingest: IngestState, scope: Scope, receive: Receive, send: Send, channel: str,
                           inbox_id: str) -> None:
    """The route as a plain ASGI endpoint (``IngestApp`` calls it for a matching POST)."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))  # first value wins
    try:
        body = await _read_body(receive, headers.get("content-length"), ingest.settings.max_body_bytes)
        result = await accept(ingest, channel, inbox_id, headers, body,
                              headers.get("traceparent") or new_traceparent())
    except DomainError as exc:
        await problem(exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors)(scope, receive, send)
        return
    # what JSONResponse(result, status_code=202) sends, without building one
    content = json.dumps(result, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    await send({"type": "http.response.start", "status": 202,
                "headers": [(b"content-length", str(len(content)).encode("latin-1")),
                            (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": content})


@router.post("/webhooks/{channel}/{inbox_id}", status_code=202)
async def receive(channel: str, inbox_id: str, request: Request, ingest: IngestDep) -> JSONResponse:
    body = await read_limited(request, ingest.settings.max_body_bytes)
    result = await accept(ingest, channel, inbox_id, request.headers, body,
                          request.headers.get("traceparent") or new_traceparent())
    return JSONResponse(result, status_code=202)
