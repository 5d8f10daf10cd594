"""The foundation flow, driven only through the public API as a client would, so the same scenario
runs against the embedded platform and the distributed one.

tenant → agent online → api inbox → WebSocket → signed webhook → message.created (with language),
conversation.updated and ticket.assigned on the agent's socket → conversation listed with its
assignee → agent reply → delivered to the signed callback → message status "delivered"; another
tenant sees none of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import websockets

SPANISH = "Hola, ¿mi pedido ya salió? Necesito saber cuándo llegará a Madrid, gracias."


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def poll(fn, *, timeout: float = 20.0, interval: float = 0.05):  # noqa: ANN001, ANN201
    """Call ``fn`` until it returns something truthy (bounded)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


class WsClient:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            self.frames.append(json.loads(raw))

    async def wait_for(self, type_: str, predicate=lambda d: True, timeout: float = 20.0) -> dict[str, Any]:  # noqa: ANN001
        async def found() -> dict[str, Any] | None:
            return next((f for f in self.frames if f["type"] == type_ and predicate(f.get("data"))), None)

        return await poll(found, timeout=timeout)

    async def close(self) -> None:
        self._task.cancel()
        await self.ws.close()


async def create_tenant(api: httpx.AsyncClient, operator_token: str, name: str) -> str:
    r = await api.post("/api/v1/tenants", json={"name": name, "region": "eu"},
                       headers={"Authorization": f"Bearer {operator_token}"})
    assert r.status_code == 201, r.text
    return r.json()["api_key"]


async def run_flow(base_url: str, operator_token: str, callback) -> None:  # noqa: ANN001 - tests.fakes callback server
    ws_url = base_url.replace("http://", "ws://") + "/api/v1/ws"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
        key_a = await create_tenant(api, operator_token, f"Shop A {uuid.uuid4().hex[:6]}")
        key_b = await create_tenant(api, operator_token, f"Shop B {uuid.uuid4().hex[:6]}")
        a = {"Authorization": f"Bearer {key_a}"}
        b = {"Authorization": f"Bearer {key_b}"}

        r = await api.post("/api/v1/agents", headers=a, json={
            "name": "Ana", "email": "ana@example.com", "languages": ["es", "en"], "timezone": "Europe/Madrid",
            "capacity": 3})
        assert r.status_code == 201, r.text
        agent_id = r.json()["id"]
        r = await api.put(f"/api/v1/agents/{agent_id}/presence", headers=a, json={"status": "online"})
        assert r.status_code == 200, r.text

        r = await api.post("/api/v1/inboxes", headers=a, json={
            "name": "Shop API", "channel": "api", "settings": {"callback_url": callback.url}})
        assert r.status_code == 201, r.text
        inbox = r.json()
        callback.secret = inbox["secret"]

        ws_a = WsClient(await websockets.connect(f"{ws_url}?token={key_a}"))
        ws_b = WsClient(await websockets.connect(f"{ws_url}?token={key_b}"))
        try:
            body = json.dumps({"id": f"ext-{uuid.uuid4()}", "sender": {"id": "cust-42", "name": "Lucía",
                                                                       "email": "lucia@example.com"},
                               "text": SPANISH}).encode()
            r = await api.post(f"/webhooks/api/{inbox['id']}", content=body,
                               headers={"Content-Type": "application/json",
                                        "X-Meridian-Signature": sign(inbox["secret"], body)})
            assert r.status_code == 202, r.text

            created = await ws_a.wait_for("message.created", lambda d: d["direction"] == "inbound")
            assert created["data"]["language"] == "es"
            assert created["data"]["text"] == SPANISH
            conversation_id = created["data"]["conversation_id"]
            assigned = await ws_a.wait_for("ticket.assigned", lambda d: d["conversation_id"] == conversation_id)
            assert assigned["data"]["assignee_agent_id"] == agent_id
            await ws_a.wait_for("conversation.updated",
                                lambda d: d["id"] == conversation_id and d.get("assignee_agent_id") == agent_id)

            r = await api.get("/api/v1/conversations", headers=a, params={"inbox_id": inbox["id"]})
            assert r.status_code == 200, r.text
            [conv] = r.json()["items"]
            assert conv["id"] == conversation_id
            assert conv["language"] == "es"
            assert conv["assignee_agent_id"] == agent_id

            r = await api.post(f"/api/v1/conversations/{conversation_id}/messages", headers=a,
                               json={"text": "¡Hola Lucía! Sale hoy."})
            assert r.status_code == 201, r.text
            reply_id = r.json()["id"]
            delivered = await poll(lambda: _delivered(callback, reply_id))
            assert delivered["recipient"]["id"] == "cust-42"
            assert delivered["conversation_id"] == conversation_id

            async def status() -> bool:
                r = await api.get(f"/api/v1/conversations/{conversation_id}/messages", headers=a)
                return any(m["id"] == reply_id and m["status"] == "delivered" for m in r.json()["items"])

            await poll(status)
            await ws_a.wait_for("message.updated", lambda d: d["id"] == reply_id and d["status"] == "delivered")

            # tenant isolation: B sees nothing of A, over REST and over the WebSocket
            assert (await api.get(f"/api/v1/conversations/{conversation_id}", headers=b)).status_code == 404
            assert (await api.get("/api/v1/conversations", headers=b)).json()["items"] == []
            assert [f for f in ws_b.frames if "data" in f] == []  # control frames (ready, ping) only
        finally:
            await ws_a.close()
            await ws_b.close()


async def _delivered(callback, message_id: str) -> dict[str, Any] | None:  # noqa: ANN001
    for request in callback.requests:
        payload = json.loads(request.body)
        if payload.get("id") == message_id and request.signature_valid:
            return payload
    return None
