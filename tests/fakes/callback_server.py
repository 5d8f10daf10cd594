"""A real HTTP callback endpoint for outbound deliveries of the ``api`` channel (tests only).

It listens on a free 127.0.0.1 port (uvicorn, in the current event loop), accepts POSTs on any path,
records every request and checks its ``X-Meridian-Signature`` (``sha256=<hex HMAC-SHA256(secret,
raw body)>``) against ``secret``.

    async with CallbackServer(secret="s3cret") as cb:       # or set cb.secret later
        cb.url                                              # "http://127.0.0.1:<port>/callback"
        cb.program(500, 500)                                # the next two requests get 500, then 200
        cb.program(429, times=3)                            # the next three get 429
        cb.program("hang")                                  # the next request hangs (no answer) for hang_seconds
        cb.default = 500                                    # answer once the program is used up (200)
        req = (await cb.wait_for(1))[0]                     # bounded wait for >= n requests (timeout=10 s)
        req.json(); req.body; req.headers["x-meridian-signature"]; req.signature_valid; req.status
        cb.requests                                         # every RecordedRequest so far
        cb.clear()                                          # forget requests, program and default

``RecordedRequest``: method, path, headers (lower-case names → str), body (raw bytes), status (the
answer given, or "hang"), signature_valid (verified against the secret set when it arrived; False
without a secret). A hanging request is released when the server closes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

Response = int | Literal["hang"]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: Response
    signature_valid: bool

    def json(self) -> Any:
        return json.loads(self.body)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class CallbackServer:
    def __init__(self, secret: str | None = None, *, hang_seconds: float = 30.0, path: str = "/callback") -> None:
        self.secret = secret
        self.hang_seconds = hang_seconds
        self.default: int = 200
        self.requests: list[RecordedRequest] = []
        self._path = path
        self._plan: deque[Response] = deque()
        self._release = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self._path}"

    def program(self, *responses: Response, times: int = 1) -> None:
        """Queue answers for the next requests: status codes or "hang", each repeated ``times``."""
        for response in responses:
            self._plan.extend([response] * times)

    def clear(self) -> None:
        self.requests.clear()
        self._plan.clear()
        self.default = 200

    def verify(self, body: bytes, header: str | None) -> bool:
        if not self.secret or not header:
            return False
        return hmac.compare_digest(sign(self.secret, body).encode(), header.encode("latin-1", "replace"))

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:  # noqa: ASYNC109
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.requests) >= n), timeout)
        return list(self.requests)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:  # the ASGI app
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        response: Response = self._plan.popleft() if self._plan else self.default
        request = RecordedRequest(scope["method"], scope["path"], headers, bytes(body), response,
                                  self.verify(bytes(body), headers.get("x-meridian-signature")))
        async with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
        if response == "hang":
            try:
                await asyncio.wait_for(self._release.wait(), self.hang_seconds)
            except TimeoutError:
                pass
            response = 504
        payload = json.dumps({"status": response}).encode()
        await send({"type": "http.response.start", "status": response,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def start(self) -> CallbackServer:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(self, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises the startup error
            await asyncio.sleep(0.01)
        return self

    async def close(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sock is not None:
            self._sock.close()

    async def __aenter__(self) -> CallbackServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
