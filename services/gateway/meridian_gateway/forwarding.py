"""Forward public requests to the owning service's internal HTTP API.

Lean on purpose (the webhook path carries the platform's throughput): the shared client of the owner
(read from ``infra.service_clients`` at request time), the body bytes as received, no JSON parsing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
from meridian.http.tenancy import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, TENANT_HEADER
from meridian.telemetry import current_traceparent
from starlette.requests import Request
from starlette.responses import Response

from meridian_gateway.domain.errors import BodyTooLarge, OwnerUnavailable
from meridian_gateway.domain.model import Principal

log = logging.getLogger("meridian.gateway.forward")

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length",
})
# response headers passed back besides the content type
PASSED_BACK = ("location", "retry-after", "link", "www-authenticate", "idempotent-replayed")


RawHeaders = list[tuple[bytes, bytes]]

_API_PASSED = frozenset({b"content-type", b"accept", b"accept-language", b"if-match", b"if-none-match",
                         b"traceparent", b"tracestate", b"user-agent", b"x-request-id"})
_TENANT = TENANT_HEADER.encode()
_ACTOR = ACTOR_HEADER.encode()
_INTERNAL = INTERNAL_TOKEN_HEADER.encode()
_HOP_BY_HOP = frozenset(h.encode() for h in HOP_BY_HOP)
# trust headers only the gateway may set (X-Meridian-Signature etc. are the channel's and pass through)
_TRUSTED = frozenset({_TENANT, _ACTOR, _INTERNAL})


def api_headers(raw: RawHeaders, principal: Principal, internal_token: str | None, traceparent: str) -> RawHeaders:
    """Headers of a forwarded API call: content type, accept, trace (a short allow-list), plus the tenant,
    the actor and the internal token. The caller's Authorization and any X-Meridian-* it sent are dropped."""
    out = [(n, v) for n, v in raw if n.lower() in _API_PASSED]
    out.append((_TENANT, str(principal.tenant_id).encode()))
    out.append((_ACTOR, str(principal.key_id).encode()))
    if internal_token:
        out.append((_INTERNAL, internal_token.encode()))
    if traceparent and not any(n.lower() == b"traceparent" for n, _ in out):
        out.append((b"traceparent", traceparent.encode()))
    return out


def webhook_headers(raw: RawHeaders, internal_token: str | None, traceparent: str) -> RawHeaders:
    """Every original header (raw bytes) except hop-by-hop ones and the gateway's trust headers
    (X-Meridian-Tenant/-Actor/-Internal-Token: never taken from a caller)."""
    out = [(n, v) for n, v in raw if (low := n.lower()) not in _HOP_BY_HOP and low not in _TRUSTED]
    if internal_token:
        out.append((_INTERNAL, internal_token.encode()))
    if traceparent and not any(n.lower() == b"traceparent" for n, _ in out):
        out.append((b"traceparent", traceparent.encode()))
    return out


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refusing (413) anything over ``limit`` without buffering more than ``limit + 1`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Forwarder:
    def __init__(self, clients: Mapping[str, httpx.AsyncClient], internal_token: str | None) -> None:
        self._clients = clients  # the runtime's dict: filled after build, read per request
        self.internal_token = internal_token

    def client(self, service: str) -> httpx.AsyncClient:
        client = self._clients.get(service)
        if client is None:
            raise OwnerUnavailable(f"service {service} is not reachable from this gateway")
        return client

    async def send(self, service: str, method: str, target: str, headers: RawHeaders,
                   body: bytes) -> Response:
        client = self.client(service)
        try:
            upstream = await client.request(method, target, content=body or None, headers=headers)
        except httpx.TransportError as exc:
            log.warning("owner unreachable", extra={"service": service, "error": type(exc).__name__})
            raise OwnerUnavailable(f"service {service} is unavailable") from exc
        except Exception as exc:  # an in-process (ASGI) owner that crashed
            log.exception("owner failed", extra={"service": service})
            raise OwnerUnavailable(f"service {service} failed") from exc
        out = {k: v for k in PASSED_BACK if (v := upstream.headers.get(k)) is not None}
        response = Response(content=upstream.content, status_code=upstream.status_code, headers=out)
        content_type = upstream.headers.get("content-type")
        if content_type is not None:
            response.headers["content-type"] = content_type
        return response

    @staticmethod
    def target(request: Request) -> str:
        """Path and query exactly as received (percent-encoding kept)."""
        raw = request.scope.get("raw_path")
        path = raw.split(b"?", 1)[0].decode("latin-1") if raw else request.url.path
        query = request.scope.get("query_string", b"")
        return f"{path}?{query.decode('latin-1')}" if query else path

    @staticmethod
    def traceparent() -> str:
        return current_traceparent()
