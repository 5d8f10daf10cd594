"""A minimal in-process HTTP client of an ASGI app: what the embedded runtime hands the gateway for each
service instead of ``httpx.AsyncClient(transport=httpx.ASGITransport(app))``.

The webhook path crosses this hop once per request, and httpx (request/URL models, cookie jar, auth and
redirect machinery, header normalisation) cost more CPU than the rest of the hop. This client builds the
ASGI scope itself, calls the app, and collects the status, headers and body. It offers the subset of the
``httpx.AsyncClient`` API the platform uses: ``request(method, url, content=, headers=, params=)``,
``get``/``post``/``put``/``patch``/``delete`` and ``aclose()``; the response has ``status_code``,
``headers`` (case-insensitive ``get``), ``content``, ``text`` and ``json()``. Like ``ASGITransport``,
an exception of the app propagates to the caller, and timeouts are accepted but not applied (there is no
network to wait for).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

HeaderInput = Mapping[str, str] | Iterable[tuple[bytes | str, bytes | str]] | None

_CLIENT = ("127.0.0.1", 123)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


class AsgiHeaders:
    """Response headers: names lowercased, repeated names joined with ``", "`` (as httpx does)."""

    __slots__ = ("raw", "_map")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self._map: dict[str, str] = {}
        for name, value in raw:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            self._map[key] = f"{self._map[key]}, {text}" if key in self._map else text

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._map.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def items(self) -> Iterable[tuple[str, str]]:
        return self._map.items()

    def __repr__(self) -> str:
        return f"AsgiHeaders({self._map!r})"


class AsgiResponse:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: AsgiHeaders, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def __repr__(self) -> str:
        return f"<AsgiResponse [{self.status_code}]>"


class AsgiClient:
    """Calls ``app`` in this process; ``base_url`` only names the host (``http://ticket``)."""

    def __init__(self, app: Any, base_url: str = "http://testserver", *, timeout: float | None = None) -> None:
        self.app = app
        parts = urlsplit(base_url)
        self.scheme = parts.scheme or "http"
        self.host = parts.hostname or "testserver"
        self.port = parts.port
        self._netloc = (parts.netloc or self.host).encode("latin-1")
        self.timeout = timeout  # accepted for httpx compatibility; nothing to time out in-process
        self.closed = False

    async def request(self, method: str, url: str, *, content: bytes | str | None = None,
                      headers: HeaderInput = None, params: Mapping[str, Any] | None = None,
                      timeout: float | None = None) -> AsgiResponse:
        del timeout
        method = method.upper()
        path, _, query = url.partition("?")
        if path.startswith(("http://", "https://")):  # an absolute URL: keep only the path and query
            split = urlsplit(url)
            path, query = split.path or "/", split.query
        if params:
            extra = urlencode(params, doseq=True)
            query = f"{query}&{extra}" if query else extra
        body = _bytes(content) if content is not None else b""

        raw: list[tuple[bytes, bytes]] = []
        has_host = has_length = False
        if headers is not None:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            for name, value in pairs:
                low = _bytes(name).lower()
                if low == b"host":
                    has_host = True
                elif low == b"content-length" or low == b"transfer-encoding":
                    has_length = True
                raw.append((low, _bytes(value)))
        if not has_host:
            raw.insert(0, (b"host", self._netloc))
        if not has_length and (body or method in _BODY_METHODS):
            raw.append((b"content-length", str(len(body)).encode()))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "headers": raw,
            "scheme": self.scheme,
            "path": unquote(path),
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "server": (self.host, self.port),
            "client": _CLIENT,
            "root_path": "",
        }

        request_sent = False
        status: int | None = None
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        complete = False
        done: asyncio.Event | None = None  # created only if the app waits for a disconnect

        async def receive() -> dict[str, Any]:
            nonlocal request_sent, done
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            if not complete:
                if done is None:
                    done = asyncio.Event()
                await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Mapping[str, Any]) -> None:
            nonlocal status, response_headers, complete
            kind = message["type"]
            if kind == "http.response.start":
                if status is not None:
                    raise RuntimeError("the app started its response twice")
                status = message["status"]
                response_headers = list(message.get("headers", ()))
            elif kind == "http.response.body":
                if complete:
                    raise RuntimeError("the app sent a body after its response was complete")
                chunk = message.get("body", b"")
                if chunk and method != "HEAD":
                    chunks.append(chunk)
                if not message.get("more_body", False):
                    complete = True
                    if done is not None:
                        done.set()

        try:
            await self.app(scope, receive, send)
        finally:
            complete = True
            if done is not None:
                done.set()
        if status is None:
            raise RuntimeError("the app returned without a response")
        return AsgiResponse(status, AsgiHeaders(response_headers),
                            chunks[0] if len(chunks) == 1 else b"".join(chunks))

    async def get(self, url: str, **kwargs: Any) -> AsgiResponse:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> AsgiResponse:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> AsgiResponse:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> AsgiResponse:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> AsgiResponse:
        return await self.request("DELETE", url, **kwargs)

    async def aclose(self) -> None:
        self.closed = True

    async def __aenter__(self) -> AsgiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
