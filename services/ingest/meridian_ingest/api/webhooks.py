"""Channel webhooks: ``POST /webhooks/{channel}/{inbox_id}`` (public through the gateway, raw body).

Checks, in order: body over the limit → 413 (Content-Length, then counted while streaming; never more
than limit+1 bytes buffered); unknown channel/inbox → 404; signature → 401; UTF-8, JSON, fields →
400; then the group-committed acceptance → 202 accepted | duplicate.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from meridian_ingest.api.deps import IngestDep
from meridian_ingest.channels import ADAPTERS
from meridian_ingest.domain.errors import BodyTooLarge, InboxNotFound

router = APIRouter(tags=["webhooks"])


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            size = -1
        if size > limit:
            raise BodyTooLarge(f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise BodyTooLarge(f"body is larger than {limit} bytes")
        body += chunk
    return bytes(body)


@router.post("/webhooks/{channel}/{inbox_id}", status_code=202)
async def receive(channel: str, inbox_id: str, request: Request, ingest: IngestDep) -> JSONResponse:
    body = await read_limited(request, ingest.settings.max_body_bytes)
    adapter = ADAPTERS.get(channel)
    try:
        inbox_uuid = UUID(inbox_id)
    except ValueError:
        inbox_uuid = None
    inbox = await ingest.inboxes.get(inbox_uuid) if adapter is not None and inbox_uuid is not None else None
    if inbox is None or inbox.channel != channel:
        raise InboxNotFound("no such inbox")
    adapter.verify(inbox.secret, request.headers, body)
    message = adapter.parse(body)
    accepted = await ingest.batcher.submit(inbox, message)
    return JSONResponse({"status": "accepted" if accepted else "duplicate", "id": message.external_id},
                        status_code=202)
