"""Forward public requests to the owning service's internal HTTP API.

Lean on purpose (the webhook path carries the platform's throughput): the body bytes as received, no
JSON parsing. An owner running in this process (embedded mode: ``infra.service_apps``) is called as
an ASGI app directly; any other over HTTP at its base URL (``infra.service_urls``), through the
gateway's own pooled HTTP/1.1 client (meridian_gateway.http1: httpx's pool rescanned every
connection for every request, and aiohttp's client still took a third of the gateway's CPU). Both
maps are read at request time: the runtime fills them after every service is built.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from meridian.http.tenancy import ACTOR_HEADER, INTERNAL_TOKEN_HEADER, TENANT_HEADER
from meridian.telemetry import current_traceparent
from starlette.requests import Request
from starlette.responses import Response

from meridian_gateway.domain.errors import OwnerUnavailable
from meridian_gateway.domain.model import Principal
from meridian_gateway.http1 import Http1Client, OwnerConnectionError

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
    return _trusted_by_owner(out, internal_token, traceparent)


def webhook_headers(raw: RawHeaders, internal_token: str | None, traceparent: str) -> RawHeaders:
    """Every original header (raw bytes) except hop-by-hop ones and the gateway's trust headers
    (X-Meridian-Tenant/-Actor/-Internal-Token: never taken from a caller)."""
    out = [(n, v) for n, v in raw if (low := n.lower()) not in _HOP_BY_HOP and low not in _TRUSTED]
    return _trusted_by_owner(out, internal_token, traceparent)


def _trusted_by_owner(out: RawHeaders, internal_token: str | None, traceparent: str = "") -> RawHeaders:
    """``out`` plus the internal token the owner trusts the gateway by, and the request's trace
    context when ``out`` carries none."""
    if internal_token:
        out.append((_INTERNAL, internal_token.encode()))
    if traceparent and not any(n.lower() == b"traceparent" for n, _ in out):
        out.append((b"traceparent", traceparent.encode()))
    return out


class Forwarder:
    def __init__(self, apps: Mapping[str, Any], urls: Mapping[str, str], internal_token: str | None, *,
                 timeout: float = 30.0, max_connections: int = 200) -> None:
        self._apps = apps  # the runtime's dicts: filled after build, read per request
        self._urls = urls
        self.internal_token = internal_token
        self._timeout = timeout
        self._http = Http1Client(max_connections=max_connections)

    async def send(self, service: str, method: str, target: str, headers: RawHeaders, body: bytes) -> Response:
        status, upstream_headers, content = await self.exchange(service, method, target, headers, body)
        out = {k: v for k in PASSED_BACK if (v := upstream_headers.get(k)) is not None}
        response = Response(content=content, status_code=status, headers=out)
        content_type = upstream_headers.get("content-type")
        if content_type is not None:
            response.headers["content-type"] = content_type
        return response

    async def exchange(self, service: str, method: str, target: str, headers: RawHeaders, body: bytes, *,
                       time_limit: float | None = None) -> tuple[int, dict[str, str], bytes]:
        """One request to the owner: (status, headers with lower-case names, body); raises
        OwnerUnavailable when it cannot be reached or fails."""
        app = self._apps.get(service)
        if app is not None:
            try:
                return await call_asgi(app, service, method, target, headers, body)
            except Exception as exc:  # an in-process owner that crashed
                log.exception("owner failed", extra={"service": service})
                raise OwnerUnavailable(f"service {service} failed") from exc
        base = self._urls.get(service)
        if base is None:
            raise OwnerUnavailable(f"service {service} is not reachable from this gateway")
        try:
            status, raw, content = await self._http.request(base, method, target, headers, body,
                                                            time_limit=time_limit or self._timeout)
        except (OwnerConnectionError, TimeoutError) as exc:
            log.warning("owner unreachable", extra={"service": service, "error": type(exc).__name__})
            raise OwnerUnavailable(f"service {service} is unavailable") from exc
        out: dict[str, str] = {}
        for name, value in raw:
            _add_header(out, name.decode("latin-1"), value.decode("latin-1"))
        return status, out, content

    async def close(self) -> None:
        await self._http.close()

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


def _add_header(headers: dict[str, str], name: str, value: str) -> None:
    """Add a response header under its lower-case name; a repeated one is joined with ", ", as an
    HTTP client's headers.get() does."""
    name = name.lower()
    headers[name] = f"{headers[name]}, {value}" if name in headers else value


async def call_asgi(app: Any, service: str, method: str, target: str, headers: RawHeaders, body: bytes
                    ) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to an ASGI app in this process: (status, headers with lower-case names, body).
    An exception of the app propagates (as over HTTP it would be a 500 from its error handler)."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": unquote(path), "raw_path": path.encode("latin-1"), "query_string": query.encode("latin-1"),
        "root_path": "", "client": ("127.0.0.1", 0), "server": (service, 80),
        "headers": [(b"host", service.encode()), (b"content-length", str(len(body)).encode()),
                    *((name.lower(), value) for name, value in headers)],
    }
    done = asyncio.Event()
    request_sent = False
    status = 500
    response_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()                    # the response is complete: the client "disconnects"
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                _add_header(response_headers, name.decode("latin-1"), value.decode("latin-1"))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    try:
        await app(scope, receive, send)
    finally:
        done.set()
    return status, response_headers, b"".join(chunks)


class InProcessWebhooks:
    """ASGI middleware for the embedded runtime: a webhook goes straight to the in-process ingest
    app on the same connection, its body streamed through, with every header but the trust
    headers (the gateway's internal token added, as the forwarder does). The gateway's middleware,
    its route and the buffered in-process call are skipped: ingest limits the body, traces and
    answers errors itself. A body without a Content-Length, or over the gateway's limit, and every
    request without an in-process ingest (distributed mode) go on to the gateway's forwarding route,
    which enforces the limit (413) itself."""

    def __init__(self, app: Any, apps: Mapping[str, Any], internal_token: str | None, max_body: int) -> None:
        self.app = app
        self._apps = apps  # the runtime's dict: filled after build
        self._internal_token = internal_token
        self._max_body = max_body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/webhooks/"):
            ingest = self._apps.get("ingest")
            length = next((v for n, v in scope["headers"] if n.lower() == b"content-length"), b"")
            if ingest is not None and length.isdigit() and int(length) <= self._max_body:
                headers = [(n, v) for n, v in scope["headers"] if n.lower() not in _TRUSTED]
                await ingest({**scope, "headers": _trusted_by_owner(headers, self._internal_token)}, receive, send)
                return
        await self.app(scope, receive, send)
