"""Embedded mode keeps its bus in memory: a stop during traffic, clean or not, loses no accepted
message. A clean stop finishes what is in flight; after a crash, the next start sends again what
the relays had handed to the lost bus (meridian.runtime.checkpoint)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from meridian.db.engine import driver_url
from meridian.runtime.embedded import EmbeddedPlatform
from meridian.settings import PlatformSettings

from tests.integration.scenario import create_tenant, poll, sign

pytestmark = pytest.mark.integration

OPERATOR = "operator-test-token"
SENDERS, PER_SENDER = 10, 40


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.runtime = EmbeddedPlatform(PlatformSettings(mode="embedded", data_dir=data_dir, port=self.port,
                                                         operator_token=OPERATOR, seed_demo=False))
        self.base = f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.runtime.start()
        self.server = uvicorn.Server(uvicorn.Config(self.runtime.gateway_app, host="127.0.0.1", port=self.port,
                                                    log_config=None, lifespan="off"))
        self.serving = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.02)

    async def stop(self, *, drain: bool) -> None:
        self.server.should_exit = True
        await self.serving
        await self.runtime.stop(drain=drain)


async def _send_traffic(base: str) -> tuple[str, str]:
    """A tenant, an api inbox and SENDERS × PER_SENDER accepted webhooks; returns (api key, inbox id)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        key = await create_tenant(api, OPERATOR, "Restart")
        r = await api.post("/api/v1/inboxes", headers={"Authorization": f"Bearer {key}"}, json={
            "name": "shop", "channel": "api", "settings": {"callback_url": "http://127.0.0.1:9/unused"}})
        assert r.status_code == 201, r.text
        inbox, secret = r.json()["id"], r.json()["secret"]

        async def sender(s: int) -> None:
            for i in range(PER_SENDER):
                body = json.dumps({"id": f"m-{s}-{i}", "sender": {"id": f"customer-{s}"},
                                   "text": f"where is my order number {s}-{i}"}).encode()
                r = await api.post(f"/webhooks/api/{inbox}", content=body, headers={
                    "Content-Type": "application/json", "X-Meridian-Signature": sign(secret, body)})
                assert r.status_code == 202, r.text

        await asyncio.gather(*(sender(s) for s in range(SENDERS)))
        return key, inbox


async def _inbound_messages(base: str, key: str, inbox: str) -> int:
    auth = {"Authorization": f"Bearer {key}"}
    total = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        conversations = (await api.get("/api/v1/conversations", params={"inbox_id": inbox, "limit": 100},
                                       headers=auth)).json()["items"]
        for conversation in conversations:
            cursor = None
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = (await api.get(f"/api/v1/conversations/{conversation['id']}/messages", params=params,
                                      headers=auth)).json()
                total += sum(1 for m in page["items"] if m["direction"] == "inbound")
                cursor = page.get("next_cursor")
                if not cursor:
                    break
    return total


async def _database(running: Running) -> asyncpg.Connection:
    return await asyncpg.connect(driver_url(running.runtime.platform.database_url))


@pytest.mark.parametrize("drain", [True, False], ids=["clean stop", "crash"])
async def test_no_accepted_message_is_lost_across_a_stop_during_traffic(tmp_path, drain):
    first = Running(tmp_path / "data")
    await first.start()
    db = await _database(first)
    try:
        # ticket cannot read its messages: what ingest publishes waits in the bus
        blocker = db.transaction()
        await blocker.start()
        await db.execute("LOCK TABLE ticket.messages IN ACCESS EXCLUSIVE MODE")
        key, inbox = await _send_traffic(first.base)

        async def all_published() -> bool:
            return await db.fetchval("SELECT count(*) FROM ingest.outbox WHERE sent_at IS NULL") == 0

        await poll(all_published)
        assert not first.runtime.services.infra.bus.is_drained()
        # the stop begins while ticket is blocked: a clean stop waits for it to catch up, a crash not
        stopping = asyncio.create_task(first.stop(drain=drain))
        await asyncio.sleep(0.3)
        await blocker.rollback()
        await stopping
    finally:
        await db.close()

    second = Running(tmp_path / "data")
    await second.start()
    try:
        expected = SENDERS * PER_SENDER

        async def all_there() -> bool:
            return await _inbound_messages(second.base, key, inbox) == expected

        await poll(all_there, timeout=60, interval=0.5)
        assert await _inbound_messages(second.base, key, inbox) == expected  # and no duplicate
    finally:
        await second.stop(drain=True)
