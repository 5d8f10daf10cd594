"""Request bodies read with a size limit (the gateway's forwarded requests, ingest's webhooks)."""

from __future__ import annotations

from starlette.requests import Request

from meridian.errors import PayloadTooLarge


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing (413) anything over ``limit``: first by a declared Content-Length, then
    by counting while streaming, so no more than ``limit + 1`` bytes are ever buffered."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
