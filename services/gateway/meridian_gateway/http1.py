"""The gateway's HTTP/1.1 client for the owners' internal APIs: pooled keep-alive connections, the
response parsed by httptools (uvicorn's parser).

Every webhook and API call in distributed mode crosses it, and aiohttp's client took ~0.16 ms of
the gateway's CPU per webhook (a third of it, in py-spy profiles): request and response objects,
header multidicts, timers and tracing hooks this hop does not use. This client writes the request
in one buffer and parses the response in C; what it supports is what the owners (uvicorn) speak:
Content-Length or chunked bodies, keep-alive, ``Connection: close``.

A pooled connection the server closed meanwhile (uvicorn closes idle ones after 5 s) is never
reused: connections idle for ``IDLE_LIMIT`` seconds are dropped, and so is one whose transport is
closing. A request whose connection fails before any byte of the response arrived is not retried
(the owner may have acted on it); the caller gets ``OwnerConnectionError``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from urllib.parse import urlsplit

import httptools

IDLE_LIMIT = 4.0  # seconds; below uvicorn's default keep-alive timeout (5 s)


class OwnerConnectionError(Exception):
    """The owner could not be reached, or the connection failed before the response was complete."""


class _Response:
    __slots__ = ("status", "headers", "chunks", "done", "keep_alive")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.done: asyncio.Future[None] = loop.create_future()
        self.keep_alive = False


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._response: _Response | None = None
        self.closed = False
        self.idle_since = time.monotonic()

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(OwnerConnectionError(f"malformed response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(OwnerConnectionError(f"connection lost: {exc!r}" if exc else "connection closed"))

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self._response is not None:
            self._response.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._response is not None:
            self._response.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self._response is not None:
            self._response.chunks.append(body)

    def on_message_complete(self) -> None:
        response, self._response = self._response, None
        if response is not None and not response.done.done():
            response.keep_alive = self._parser.should_keep_alive()
            response.done.set_result(None)

    # -- client side
    def usable(self) -> bool:
        return (not self.closed and self.transport is not None and not self.transport.is_closing()
                and time.monotonic() - self.idle_since < IDLE_LIMIT)

    def send(self, request: bytes) -> _Response:
        assert self.transport is not None and self._response is None
        self._response = _Response(self._loop)
        self.transport.write(request)
        return self._response

    def _fail(self, exc: Exception) -> None:
        response, self._response = self._response, None
        if response is not None and not response.done.done():
            response.done.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http1Client:
    """One pool of keep-alive connections per owner (host and port), at most ``max_connections``
    busy or idle in all; a request beyond that waits for a free one."""

    def __init__(self, *, max_connections: int = 200) -> None:
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections)

    async def request(self, base_url: str, method: str, target: str, headers: list[tuple[bytes, bytes]],
                      body: bytes, *, time_limit: float) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, raw headers, body) of one request; raises OwnerConnectionError or TimeoutError."""
        parts = urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        head = [f"{method} {parts.path.rstrip('/')}{target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Length: {len(body)}\r\n".encode("latin-1")]
        head += [b"%s: %s\r\n" % (name, value) for name, value in headers]
        head.append(b"\r\n")
        request = b"".join(head) + body
        async with self._slots:
            async with asyncio.timeout(time_limit):
                connection = await self._checkout((host, port))
                try:
                    response = connection.send(request)
                    await response.done
                except BaseException:
                    connection.close()
                    raise
            if response.keep_alive:
                connection.idle_since = time.monotonic()
                self._idle.setdefault((host, port), deque()).append(connection)
            else:
                connection.close()
        return response.status, response.headers, b"".join(response.chunks)

    async def _checkout(self, address: tuple[str, int]) -> _Connection:
        idle = self._idle.get(address)
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be closed by the server
            if connection.usable():
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(lambda: _Connection(loop), *address)
        except OSError as exc:
            raise OwnerConnectionError(f"cannot connect to {address[0]}:{address[1]}: {exc}") from exc
        return connection

    async def close(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
