"""The gateway's HTTP/1.1 client against a scripted server on a loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from meridian_gateway.http1 import Http1Client, OwnerConnectionError

Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """Answers each request (read up to its Content-Length) with ``reply``; counts connections."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.requests.append(head + await reader.readexactly(length))
                await self.reply(head, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()


def fixed(response: bytes) -> Reply:
    async def reply(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(response)
        await writer.drain()
    return reply


OK = b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\nset-cookie: a\r\nset-cookie: b\r\n" \
     b"content-length: 11\r\n\r\n{\"ok\":true}"


async def test_a_request_is_sent_as_given_and_the_connection_is_kept():
    server = Server(fixed(OK))
    client = Http1Client()
    async with server as base:
        for _ in range(3):
            status, headers, body = await client.request(base, "POST", "/webhooks/api/x?v=1",
                                                         [(b"x-signature", b"sha256=ab")], b"\xff{}", time_limit=5)
            assert (status, body) == (202, b'{"ok":true}')
            assert headers.count((b"set-cookie", b"a")) == 1 and (b"set-cookie", b"b") in headers
        await client.close()
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /webhooks/api/x?v=1 HTTP/1.1\r\n")
    assert b"\r\nx-signature: sha256=ab\r\n" in first and b"\r\nContent-Length: 3\r\n" in first
    assert first.endswith(b"\r\n\r\n\xff{}")


async def test_a_chunked_response_is_joined():
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    client = Http1Client()
    async with Server(fixed(chunked)) as base:
        assert (await client.request(base, "GET", "/x", [], b"", time_limit=5))[2] == b"hello world"
        await client.close()


async def _connections_for_two_requests(reply: Reply) -> int:
    server = Server(reply)
    client = Http1Client()
    async with server as base:
        assert (await client.request(base, "GET", "/x", [], b"", time_limit=5))[0] == 200
        await asyncio.sleep(0.05)
        assert (await client.request(base, "GET", "/x", [], b"", time_limit=5))[0] == 200
        await client.close()
    return server.connections


async def test_connection_close_is_honoured():
    closing = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
    assert await _connections_for_two_requests(fixed(closing)) == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused():
    async def reply_then_close(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()  # as a keep-alive timeout would, without saying so in the response

    assert await _connections_for_two_requests(reply_then_close) == 2


async def test_failures_are_errors_not_hangs():
    async def half_then_close(head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    async def never(head: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    client = Http1Client()
    async with Server(half_then_close) as base:
        with pytest.raises(OwnerConnectionError):
            await client.request(base, "GET", "/x", [], b"", time_limit=5)
    async with Server(never) as base:
        with pytest.raises(TimeoutError):
            await client.request(base, "GET", "/x", [], b"", time_limit=0.2)
    async with Server(fixed(b"NOT HTTP\r\n\r\n")) as base:
        with pytest.raises(OwnerConnectionError):
            await client.request(base, "GET", "/x", [], b"", time_limit=5)
    with pytest.raises(OwnerConnectionError):
        await client.request(base, "GET", "/x", [], b"", time_limit=5)  # nobody listens any more
    await client.close()
