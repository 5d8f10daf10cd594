"""Forwarding, both ways the gateway reaches an owner: over HTTP (distributed) and by calling the
owner's ASGI app in the same process (embedded)."""

import base64
import uuid

import pytest

from tests.service.gateway.support import INTERNAL, bearer, create_tenant


@pytest.fixture(autouse=True, params=["http", "in-process"])
def reach(request, gateway, owners):
    """Every test here runs twice: owners behind HTTP clients, then as in-process ASGI apps."""
    apps = gateway.infra.service_apps
    if request.param == "in-process":
        apps.update({name: owner.app for name, owner in owners.items()})
    yield request.param
    apps.clear()


def headers_of(echo: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in echo["headers"]:
        out.setdefault(k, []).append(v)
    return out


async def test_api_call_reaches_the_owner_with_tenant_actor_and_internal_token(gw, owners):
    tenant = await create_tenant(gw)
    keys = (await gw.client.get("/api/v1/api-keys", headers=bearer(tenant["api_key"]))).json()["items"]
    r = await gw.client.get("/api/v1/conversations/abc%2Fdef/messages?limit=5&cursor=x%20y",
                            headers=bearer(tenant["api_key"], **{
                                "X-Meridian-Tenant": str(uuid.uuid4()), "x-meridian-actor": "evil",
                                "X-Meridian-Internal-Token": "guess", "traceparent":
                                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}))
    assert r.status_code == 200
    echo = r.json()
    assert echo["owner"] == "ticket" and echo["method"] == "GET"
    assert echo["raw_path"] == "/api/v1/conversations/abc%2Fdef/messages"
    assert echo["query"] == "limit=5&cursor=x%20y"
    h = headers_of(echo)
    assert h["x-meridian-tenant"] == [tenant["id"]]  # the caller's own value is stripped
    assert h["x-meridian-actor"] == [keys[0]["id"]]
    assert h["x-meridian-internal-token"] == [INTERNAL]
    assert h["traceparent"] == ["00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
    assert "authorization" not in h


async def test_body_status_and_content_type_come_back_unchanged(gw, owners):
    tenant = await create_tenant(gw)
    payload = b'{"text": "hola \xc3\xb1", "n": 1}'
    r = await gw.client.post("/api/v1/contacts?status=409", content=payload,
                             headers=bearer(tenant["api_key"], **{"content-type": "application/json"}))
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/json"
    assert r.headers["location"] == "/somewhere"
    echo = r.json()
    assert base64.b64decode(echo["body_b64"]) == payload
    assert headers_of(echo)["content-type"] == ["application/json"]
    for method, path, owner in (("PUT", "/api/v1/agents/1/presence", "routing"), ("DELETE", "/api/v1/inboxes/1",
                                                                                   "ingest"),
                                ("PATCH", "/api/v1/tickets/1", "ticket"), ("GET", "/api/v1/deliveries", "ingest"),
                                ("GET", "/api/v1/queue", "routing")):
        r = await gw.client.request(method, path, headers=bearer(tenant["api_key"]))
        assert r.status_code == 200 and r.json()["owner"] == owner and r.json()["method"] == method


async def test_unknown_resource_404_and_unreachable_owner_503(gw):
    tenant = await create_tenant(gw)
    r = await gw.client.get("/api/v1/nothing-here/1", headers=bearer(tenant["api_key"]))
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await gw.client.get("/api/v1/tenants/xyz", headers=bearer(tenant["api_key"]))
    assert r.status_code == 404
    r = await gw.client.get("/api/v1/languages", headers=bearer(tenant["api_key"]))  # owner is down
    assert r.status_code == 503 and r.json()["status"] == 503
    r = await gw.client.get("/api/v1/kb/articles", headers=bearer(tenant["api_key"]))  # no client at all
    assert r.status_code == 503


async def test_webhook_raw_body_passes_byte_for_byte(gw, owners):
    inbox = str(uuid.uuid4())
    body = b'{"id": "m1", "text": "\xff\xfe invalid utf-8 \xc3\x28", "x": 1}'
    r = await gw.client.post(f"/webhooks/api/{inbox}?v=1", content=body, headers={
        "content-type": "application/json", "x-meridian-signature": "sha256=channel-signature",
        "x-meridian-actor": "evil", "x-meridian-internal-token": "guess",
        "X-Signature": "sha256=abc", "Authorization": "Basic Zm9vOmJhcg==", "X-Meridian-Tenant": "evil",
        "connection": "keep-alive"})
    assert r.status_code == 201  # the fake owner's status, unchanged
    echo = r.json()
    assert echo["owner"] == "ingest" and echo["path"] == f"/webhooks/api/{inbox}" and echo["query"] == "v=1"
    assert base64.b64decode(echo["body_b64"]) == body
    h = headers_of(echo)
    assert h["x-signature"] == ["sha256=abc"]
    assert h["authorization"] == ["Basic Zm9vOmJhcg=="]
    assert h["content-type"] == ["application/json"]
    assert h["x-meridian-internal-token"] == [INTERNAL]
    assert h["x-meridian-signature"] == ["sha256=channel-signature"]  # the api channel's own header
    assert "x-meridian-tenant" not in h and "x-meridian-actor" not in h
    assert h["content-length"] == [str(len(body))]
    # verification handshakes (GET) are forwarded too, without a bearer key
    r = await gw.client.get(f"/webhooks/meta/{inbox}?hub.challenge=42")
    assert r.status_code == 200 and r.json()["query"] == "hub.challenge=42" and r.json()["method"] == "GET"


async def test_webhook_over_one_mib_is_413(gw, owners):
    before = owners["ingest"].calls
    limit = 1024 * 1024
    r = await gw.client.post(f"/webhooks/api/{uuid.uuid4()}", content=b"x" * (limit + 1))
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(20):
            yield b"y" * 65536

    r = await gw.client.post(f"/webhooks/api/{uuid.uuid4()}", content=chunks())
    assert r.status_code == 413
    assert owners["ingest"].calls == before
    r = await gw.client.post(f"/webhooks/api/{uuid.uuid4()}", content=b"x" * limit)
    assert r.status_code == 201
    assert len(base64.b64decode(r.json()["body_b64"])) == limit
