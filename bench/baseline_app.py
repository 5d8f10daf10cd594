"""The baseline: a bare FastAPI app that accepts the same signed webhook and pushes the same
WebSocket event, with no bus and no database. `make bench` measures Meridian against it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import uuid
from datetime import UTC, datetime

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

SECRET = os.environ.get("BASELINE_SECRET", "baseline-secret").encode()
app = FastAPI()
clients: set[asyncio.Queue] = set()


@app.post("/webhooks/api/{inbox_id}")
async def webhook(inbox_id: str, request: Request) -> JSONResponse:
    raw = await request.body()
    expected = "sha256=" + hmac.new(SECRET, raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-meridian-signature", "")):
        return JSONResponse({"title": "bad signature"}, status_code=401)
    body = json.loads(raw)
    frame = json.dumps({"id": str(uuid.uuid4()), "type": "message.created", "data": {
        "id": str(uuid.uuid4()), "conversation_id": inbox_id, "direction": "inbound", "text": body["text"],
        "language": None, "status": "received", "created_at": datetime.now(UTC).isoformat()}})
    for queue in clients:
        queue.put_nowait(frame)
    return JSONResponse({"status": "accepted", "id": body["id"]}, status_code=202)


@app.websocket("/api/v1/ws")
async def ws(socket: WebSocket) -> None:
    await socket.accept()
    queue: asyncio.Queue = asyncio.Queue()
    clients.add(queue)
    try:
        while True:
            await socket.send_text(await queue.get())
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(queue)
