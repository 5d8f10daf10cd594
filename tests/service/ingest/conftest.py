"""Ingest on its real PostgreSQL schema + MemoryBus, with a real callback server and tiny delivery delays."""

from __future__ import annotations

import json
import uuid

import pytest
from meridian.settings import PlatformSettings
from meridian_ingest.app import build
from meridian_ingest.settings import IngestSettings

from tests.fakes.callback_server import CallbackServer, sign
from tests.support.service import TEST_DATABASE_URL, running_service

MAX_ATTEMPTS = 3


def test_settings(platform: PlatformSettings) -> IngestSettings:
    return IngestSettings(platform=platform, delivery_max_attempts=MAX_ATTEMPTS, delivery_base_delay=0.01,
                          delivery_max_delay=0.05, delivery_timeout=0.5, delivery_poll_interval=0.05,
                          max_body_bytes=1_048_576)


@pytest.fixture(scope="session")
async def ingest():
    platform = PlatformSettings(database_url=TEST_DATABASE_URL, mode="embedded", seed_demo=False,
                                secret_key="ingest-service-test-key")
    async with running_service(lambda infra: build(infra, test_settings(platform)), platform=platform) as svc:
        yield svc


@pytest.fixture(scope="session")
async def callback_server():
    async with CallbackServer(hang_seconds=5.0) as server:
        yield server


@pytest.fixture
async def callback(callback_server):
    callback_server.clear()
    callback_server.secret = None
    return callback_server


async def make_inbox(svc, tenant_id, callback_url: str = "https://shop.example/callback", name: str = "Shop") -> dict:
    r = await svc.client.post("/api/v1/inboxes", headers=svc.headers(tenant_id), json={
        "name": name, "channel": "api", "settings": {"callback_url": callback_url}})
    assert r.status_code == 201, r.text
    return r.json()


def webhook_body(external_id: str | None = None, **overrides) -> bytes:
    payload = {"id": external_id or f"ext-{uuid.uuid4()}", "sender": {"id": "cust-1", "name": "Ana"}, "text": "Hola"}
    payload.update(overrides)
    return json.dumps(payload).encode()


async def post_webhook(svc, inbox: dict, body: bytes, *, secret: str | None = None, headers: dict | None = None):
    h = {"Content-Type": "application/json", "X-Meridian-Signature": sign(secret or inbox["secret"], body)}
    h.update(headers or {})
    return await svc.client.post(f"/webhooks/api/{inbox['id']}", content=body, headers=h)
