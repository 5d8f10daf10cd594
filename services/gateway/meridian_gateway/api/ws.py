"""``/api/v1/ws``: authenticate (``?token=`` or a first ``{"type":"auth","token":...}`` message within the
auth timeout), replay what the client missed (``?last_event_id=``), then push the tenant's live frames.

Frames: ``{"id", "type", "data"}`` events; control frames without an id: ``{"type":"ready"}`` once the
connection is live (after any replay) and ``{"type":"ping"}`` every heartbeat interval. A bad token
closes with 4401; a client too slow to drain its queue is closed with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from meridian_gateway.api.deps import GatewayState
from meridian_gateway.domain.model import Principal

log = logging.getLogger("meridian.gateway.ws")

CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 1013
READY = json.dumps({"type": "ready"})
PING = json.dumps({"type": "ping"})


async def _first_message_token(websocket: WebSocket, wait: float) -> str | None:
    try:
        message = await asyncio.wait_for(websocket.receive(), wait)
    except TimeoutError:
        return None
    if message.get("type") != "websocket.receive":
        return None
    raw = message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("type") == "auth" and isinstance(data.get("token"), str):
        return data["token"]
    return None


async def _authenticate(websocket: WebSocket, state: GatewayState) -> Principal | None:
    token = websocket.query_params.get("token")
    if token is None:
        token = await _first_message_token(websocket, state.settings.ws_auth_timeout)
    if not token:
        return None
    return await state.auth.authenticate(token)


async def _close(websocket: WebSocket, code: int, reason: str = "") -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code=code, reason=reason), 5)


async def websocket_endpoint(websocket: WebSocket) -> None:
    state: GatewayState = websocket.app.state.gateway
    await websocket.accept()
    try:
        principal = await _authenticate(websocket, state)
    except WebSocketDisconnect:
        return
    if principal is None:
        await _close(websocket, CLOSE_UNAUTHORIZED, "unauthorized")
        return
    tenant_id = str(principal.tenant_id)
    fanout = state.fanout
    sub = fanout.subscribe(tenant_id)  # live frames queue up from here on, while the replay is read
    tasks: list[asyncio.Task] = []
    try:
        replayed: set[str] = set()
        for event_id, text in await fanout.replay(tenant_id, websocket.query_params.get("last_event_id")):
            await websocket.send_text(text)
            replayed.add(event_id)
        await websocket.send_text(READY)
        heartbeat = state.settings.ws_heartbeat

        async def send_loop() -> None:
            queue = sub.queue
            while True:
                try:
                    frames = [await asyncio.wait_for(queue.get(), heartbeat)]
                except TimeoutError:
                    await websocket.send_text(PING)
                    continue
                while not queue.empty():  # everything already waiting, without a loop turn per frame
                    frames.append(queue.get_nowait())
                for event_id, text in frames:
                    if replayed and event_id in replayed:
                        replayed.discard(event_id)
                        continue
                    await websocket.send_text(text)

        async def receive_loop() -> None:
            while True:  # client messages are not commands (yet); read them to notice the disconnect
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return

        tasks = [asyncio.create_task(send_loop()), asyncio.create_task(receive_loop()),
                 asyncio.create_task(sub.overflowed.wait())]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[2] in done:
            log.info("websocket client too slow; closing", extra={"tenant_id": tenant_id})
            await _close(websocket, CLOSE_TOO_SLOW, "client too slow")
        for t in done:
            if not t.cancelled() and t.exception() is not None and not isinstance(
                    t.exception(), WebSocketDisconnect | OSError | RuntimeError):
                log.warning("websocket task failed", extra={"tenant_id": tenant_id, "error": repr(t.exception())})
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        fanout.unsubscribe(sub)
        await _close(websocket, 1000)
