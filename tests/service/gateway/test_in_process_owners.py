"""The gateway with owners reached through the embedded runtime's direct ASGI client (what `meridian run`
wires) instead of httpx: the same forwarding contract; plus the webhook fast path's trace context."""

import base64
import re
import uuid

import pytest
from meridian.runtime.asgi import AsgiClient

from tests.service.gateway.support import INTERNAL, bearer, create_tenant
from tests.service.gateway.test_forwarding import headers_of

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


@pytest.fixture
async def in_process(gw, owners):
    clients = gw.infra.service_clients
    saved = {name: clients[name] for name in ("ingest", "ticket")}
    for name in saved:
        clients[name] = AsgiClient(owners[name].app, base_url=f"http://{name}")
    try:
        yield gw
    finally:
        clients.update(saved)


async def test_webhook_passes_byte_for_byte_to_an_in_process_owner(in_process, owners):
    inbox = str(uuid.uuid4())
    body = b'{"id": "m1", "text": "\xff\xfe invalid utf-8 \xc3\x28"}'
    r = await in_process.client.post(f"/webhooks/api/{inbox}?v=1", content=body, headers={
        "content-type": "application/json", "x-meridian-signature": "sha256=sig", "X-Meridian-Tenant": "evil",
        "x-meridian-internal-token": "guess"})
    assert r.status_code == 201 and r.headers["content-type"] == "application/json"
    assert r.headers["location"] == "/somewhere"
    echo = r.json()
    assert echo["owner"] == "ingest" and echo["path"] == f"/webhooks/api/{inbox}" and echo["query"] == "v=1"
    assert base64.b64decode(echo["body_b64"]) == body
    h = headers_of(echo)
    assert h["x-meridian-signature"] == ["sha256=sig"] and h["x-meridian-internal-token"] == [INTERNAL]
    assert h["content-length"] == [str(len(body))] and "x-meridian-tenant" not in h
    r = await in_process.client.get(f"/webhooks/meta/{inbox}?hub.challenge=42")
    assert r.status_code == 200 and r.json()["method"] == "GET" and r.json()["query"] == "hub.challenge=42"


async def test_api_call_to_an_in_process_owner(in_process):
    tenant = await create_tenant(in_process)
    r = await in_process.client.get("/api/v1/conversations/abc%2Fdef/messages?limit=5",
                                    headers=bearer(tenant["api_key"]))
    assert r.status_code == 200
    echo = r.json()
    assert echo["owner"] == "ticket" and echo["raw_path"] == "/api/v1/conversations/abc%2Fdef/messages"
    assert headers_of(echo)["x-meridian-tenant"] == [tenant["id"]]
    r = await in_process.client.post("/api/v1/contacts?status=409", content=b'{"a": 1}',
                                     headers=bearer(tenant["api_key"], **{"content-type": "application/json"}))
    assert r.status_code == 409 and r.headers["location"] == "/somewhere"


async def test_a_crashing_in_process_owner_is_503(in_process):
    async def crash(scope, receive, send):
        raise RuntimeError("boom")

    in_process.infra.service_clients["ingest"] = AsgiClient(crash, base_url="http://ingest")
    r = await in_process.client.post(f"/webhooks/api/{uuid.uuid4()}", content=b"{}")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 503


async def test_webhook_trace_context_is_the_callers_or_a_new_one(gw):
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    r = await gw.client.post(f"/webhooks/api/{uuid.uuid4()}", content=b"{}", headers={"traceparent": parent})
    assert headers_of(r.json())["traceparent"] == [parent]
    first = headers_of((await gw.client.post(f"/webhooks/api/{uuid.uuid4()}", content=b"{}")).json())["traceparent"]
    second = headers_of((await gw.client.post(f"/webhooks/api/{uuid.uuid4()}", content=b"{}")).json())["traceparent"]
    assert TRACEPARENT.match(first[0]) and TRACEPARENT.match(second[0]) and first != second


async def test_other_methods_and_paths_under_webhooks_are_the_routers(gw, owners):
    before = owners["ingest"].calls
    r = await gw.client.delete(f"/webhooks/api/{uuid.uuid4()}")
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
    r = await gw.client.post(f"/webhooks/api/{uuid.uuid4()}/more", content=b"{}")
    assert r.status_code == 404
    assert owners["ingest"].calls == before
