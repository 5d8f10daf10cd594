import asyncio

from meridian_gateway.tables import idempotency_keys
from sqlalchemy import update

from tests.service.gateway.support import OPERATOR, bearer, create_tenant


async def test_same_key_same_request_is_replayed(gw, owners):
    tenant = await create_tenant(gw)
    h = bearer(tenant["api_key"], **{"Idempotency-Key": "k-1", "content-type": "application/json"})
    first = await gw.client.post("/api/v1/contacts", content=b'{"name":"A"}', headers=h)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    calls = owners["ticket"].calls
    again = await gw.client.post("/api/v1/contacts", content=b'{"name":"A"}', headers=h)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    assert owners["ticket"].calls == calls  # not forwarded again
    # another tenant may use the same key independently
    other = await create_tenant(gw, "Other")
    r = await gw.client.post("/api/v1/contacts", content=b'{"name":"A"}',
                             headers=bearer(other["api_key"], **{"Idempotency-Key": "k-1"}))
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    # without a key: no replay
    r1 = await gw.client.post("/api/v1/contacts", content=b'{"name":"A"}', headers=bearer(tenant["api_key"]))
    r2 = await gw.client.post("/api/v1/contacts", content=b'{"name":"A"}', headers=bearer(tenant["api_key"]))
    assert r1.json()["n"] != r2.json()["n"]


async def test_same_key_different_request_is_422(gw):
    tenant = await create_tenant(gw)
    h = bearer(tenant["api_key"], **{"Idempotency-Key": "k-2"})
    assert (await gw.client.post("/api/v1/contacts", content=b'{"name":"A"}', headers=h)).status_code == 201
    r = await gw.client.post("/api/v1/contacts", content=b'{"name":"B"}', headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = await gw.client.post("/api/v1/tickets", content=b'{"name":"A"}', headers=h)
    assert r.status_code == 422


async def test_4xx_is_stored_and_5xx_is_not(gw, owners):
    tenant = await create_tenant(gw)
    h = bearer(tenant["api_key"], **{"Idempotency-Key": "k-3"})
    a = await gw.client.post("/api/v1/contacts?status=409", content=b"{}", headers=h)
    b = await gw.client.post("/api/v1/contacts?status=409", content=b"{}", headers=h)
    assert a.status_code == b.status_code == 409 and b.headers["idempotent-replayed"] == "true"
    h = bearer(tenant["api_key"], **{"Idempotency-Key": "k-4"})
    a = await gw.client.post("/api/v1/contacts?status=500", content=b"{}", headers=h)
    b = await gw.client.post("/api/v1/contacts?status=500", content=b"{}", headers=h)
    assert a.status_code == b.status_code == 500
    assert "idempotent-replayed" not in b.headers and a.json()["n"] != b.json()["n"]
    # an unreachable owner (503) releases the key too
    h = bearer(tenant["api_key"], **{"Idempotency-Key": "k-5"})
    assert (await gw.client.post("/api/v1/languages", content=b"{}", headers=h)).status_code == 503
    assert (await gw.client.post("/api/v1/languages", content=b"{}", headers=h)).status_code == 503


async def test_concurrent_duplicate_is_409(gw, owners):
    tenant = await create_tenant(gw)
    h = bearer(tenant["api_key"], **{"Idempotency-Key": "k-6"})
    owner = owners["routing"]
    owner.gate = asyncio.Event()
    first = asyncio.create_task(gw.client.post("/api/v1/agents", content=b"{}", headers=h))
    await asyncio.wait_for(owner.entered.wait(), 5)
    r = await gw.client.post("/api/v1/agents", content=b"{}", headers=h)
    assert r.status_code == 409 and r.json()["status"] == 409
    owner.gate.set()
    assert (await first).status_code == 201
    r = await gw.client.post("/api/v1/agents", content=b"{}", headers=h)
    assert r.status_code == 201 and r.headers["idempotent-replayed"] == "true"


async def test_expired_records_are_not_replayed(gw):
    tenant = await create_tenant(gw)
    h = bearer(tenant["api_key"], **{"Idempotency-Key": "k-7"})
    first = await gw.client.post("/api/v1/contacts", content=b"{}", headers=h)
    async with gw.kit.engine.begin() as conn:
        await conn.execute(update(idempotency_keys).values(expires_at=idempotency_keys.c.created_at))
    again = await gw.client.post("/api/v1/contacts", content=b"{}", headers=h)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["n"] != first.json()["n"]
    assert await gw.parts.app.state.gateway.idempotency.prune() == 0  # the record was renewed, not expired


async def test_tenant_and_api_key_creation_are_idempotent(gw):
    h = bearer(OPERATOR, **{"Idempotency-Key": "tenant-1"})
    a = await gw.client.post("/api/v1/tenants", json={"name": "Acme", "region": "eu"}, headers=h)
    b = await gw.client.post("/api/v1/tenants", json={"name": "Acme", "region": "eu"}, headers=h)
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    assert b.headers["idempotent-replayed"] == "true"
    c = await gw.client.post("/api/v1/tenants", json={"name": "Other", "region": "eu"}, headers=h)
    assert c.status_code == 422
    # a 4xx domain error is stored and replayed as well
    h = bearer(OPERATOR, **{"Idempotency-Key": "tenant-2"})
    d = await gw.client.post("/api/v1/tenants", json={"name": "X", "region": "mars"}, headers=h)
    e = await gw.client.post("/api/v1/tenants", json={"name": "X", "region": "mars"}, headers=h)
    assert d.status_code == e.status_code == 400 and e.headers["idempotent-replayed"] == "true"
    key = a.json()["api_key"]
    hk = bearer(key, **{"Idempotency-Key": "key-1"})
    k1 = await gw.client.post("/api/v1/api-keys", json={"name": "ci"}, headers=hk)
    k2 = await gw.client.post("/api/v1/api-keys", json={"name": "ci"}, headers=hk)
    assert k1.json() == k2.json() and k2.headers["idempotent-replayed"] == "true"
    keys = (await gw.client.get("/api/v1/api-keys", headers=bearer(key))).json()["items"]
    assert len(keys) == 2
    bad = await gw.client.post("/api/v1/api-keys", json={"name": "ci"},
                               headers=bearer(key, **{"Idempotency-Key": "x" * 300}))
    assert bad.status_code == 400
