import uuid

from meridian_ingest.tables import inboxes
from sqlalchemy import select

from tests.service.ingest.conftest import make_inbox


async def test_create_returns_the_secret_once_and_stores_it_encrypted(ingest):
    await ingest.reset()
    tenant = uuid.uuid4()
    created = await make_inbox(ingest, tenant, "https://shop.example/cb")
    assert set(created) == {"id", "name", "channel", "settings", "secret", "created_at"}
    assert created["channel"] == "api" and created["settings"] == {"callback_url": "https://shop.example/cb"}
    assert len(created["secret"]) >= 32
    r = await ingest.client.get(f"/api/v1/inboxes/{created['id']}", headers=ingest.headers(tenant))
    assert r.status_code == 200
    assert "secret" not in r.json() and r.json()["id"] == created["id"]
    async with ingest.kit.engine.connect() as conn:
        stored = (await conn.execute(select(inboxes.c.secret_encrypted))).scalar_one()
    assert created["secret"] not in stored
    await ingest.drained()
    [(meta, audit)] = ingest.events("ingest.audit.v1")
    assert audit.action == "inbox.created" and audit.resource_id == created["id"] and meta.tenant_id == str(tenant)


async def test_list_is_tenant_scoped_and_paginated(ingest):
    await ingest.reset()
    tenant, other = uuid.uuid4(), uuid.uuid4()
    ids = [(await make_inbox(ingest, tenant, name=f"i{i}"))["id"] for i in range(3)]
    await make_inbox(ingest, other)
    r = await ingest.client.get("/api/v1/inboxes", headers=ingest.headers(tenant), params={"limit": 2})
    assert r.status_code == 200
    page1 = r.json()
    assert [i["id"] for i in page1["items"]] == ids[:2] and page1["next_cursor"]
    assert all("secret" not in i for i in page1["items"])
    r = await ingest.client.get("/api/v1/inboxes", headers=ingest.headers(tenant),
                                params={"limit": 2, "cursor": page1["next_cursor"]})
    assert [i["id"] for i in r.json()["items"]] == ids[2:] and r.json()["next_cursor"] is None
    r = await ingest.client.get("/api/v1/inboxes", headers=ingest.headers(tenant), params={"limit": 500})
    assert r.status_code == 400
    r = await ingest.client.get("/api/v1/inboxes", headers=ingest.headers(tenant), params={"cursor": "garbage!"})
    assert r.status_code == 400


async def test_another_tenants_inbox_is_not_found(ingest):
    await ingest.reset()
    inbox = await make_inbox(ingest, uuid.uuid4())
    other = ingest.headers(uuid.uuid4())
    r = await ingest.client.get(f"/api/v1/inboxes/{inbox['id']}", headers=other)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert (await ingest.client.delete(f"/api/v1/inboxes/{inbox['id']}", headers=other)).status_code == 404
    assert (await ingest.client.get(f"/api/v1/inboxes/{uuid.uuid4()}", headers=other)).status_code == 404
    assert (await ingest.client.get("/api/v1/inboxes/not-a-uuid", headers=other)).status_code in (400, 404)


async def test_create_rejects_unknown_channels_and_bad_callback_urls(ingest):
    await ingest.reset()
    h = ingest.headers(uuid.uuid4())
    cases = [
        {"name": "x", "channel": "whatsapp", "settings": {"callback_url": "https://a.example"}},
        {"name": "x", "channel": "api", "settings": {"callback_url": "ftp://a.example"}},
        {"name": "x", "channel": "api", "settings": {"callback_url": "not a url"}},
        {"name": "x", "channel": "api", "settings": {}},
        {"name": "", "channel": "api", "settings": {"callback_url": "https://a.example"}},
        {"channel": "api", "settings": {"callback_url": "https://a.example"}},
    ]
    for body in cases:
        r = await ingest.client.post("/api/v1/inboxes", headers=h, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"]
    r = await ingest.client.post("/api/v1/inboxes", headers=h, content=b"{", )
    assert r.status_code == 400
    r = await ingest.client.post("/api/v1/inboxes", json=cases[0])
    assert r.status_code == 401   # no tenant
    assert (await ingest.client.get("/api/v1/inboxes", headers=h)).json()["items"] == []


async def test_delete_removes_the_inbox_and_its_webhooks(ingest):
    await ingest.reset()
    tenant = uuid.uuid4()
    inbox = await make_inbox(ingest, tenant)
    from tests.service.ingest.conftest import post_webhook, webhook_body
    assert (await post_webhook(ingest, inbox, webhook_body())).status_code == 202   # secret now cached
    r = await ingest.client.delete(f"/api/v1/inboxes/{inbox['id']}", headers=ingest.headers(tenant))
    assert r.status_code == 204
    r = await ingest.client.get(f"/api/v1/inboxes/{inbox['id']}", headers=ingest.headers(tenant))
    assert r.status_code == 404
    assert (await post_webhook(ingest, inbox, webhook_body())).status_code == 404
    await ingest.drained()
    assert [a.action for _, a in ingest.events("ingest.audit.v1")] == ["inbox.created", "inbox.deleted"]
