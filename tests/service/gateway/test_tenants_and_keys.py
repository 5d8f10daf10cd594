import uuid

from meridian.contracts.gateway import tenants_v1_pb2 as tenants_v1
from meridian_gateway.domain.keys import hash_key
from meridian_gateway.handlers import ensure_demo_tenant

from tests.service.gateway.support import OPERATOR, bearer, create_tenant


async def test_operator_creates_a_tenant_with_an_admin_key_and_events(gw):
    r = await gw.client.post("/api/v1/tenants", json={"name": "Acme", "region": "sg"},
                             headers=bearer(OPERATOR))
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "name", "region", "created_at", "api_key"}
    assert body["name"] == "Acme" and body["region"] == "sg"
    assert body["api_key"].startswith("mrd_")
    await gw.drained()
    created = [m for _, m in gw.events("gateway.tenants.v1")]
    assert len(created) == 1 and isinstance(created[0], tenants_v1.TenantCreated)
    assert created[0].tenant_id == body["id"] and created[0].region == "sg"
    audits = [(meta.tenant_id, m.action) for meta, m in gw.events("gateway.audit.v1")]
    assert (body["id"], "tenant.created") in audits and (body["id"], "api_key.created") in audits
    # the key works and shows its own tenant
    me = await gw.client.get("/api/v1/tenants/current", headers=bearer(body["api_key"]))
    assert me.status_code == 200
    assert me.json() == {k: body[k] for k in ("id", "name", "region", "created_at")}


async def test_tenant_creation_needs_the_operator_token(gw):
    for headers in ({}, bearer("wrong"), {"Authorization": f"Basic {OPERATOR}"}):
        r = await gw.client.post("/api/v1/tenants", json={"name": "Acme", "region": "eu"}, headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["www-authenticate"].startswith("Bearer")
    # an API key is not the operator token
    tenant = await create_tenant(gw)
    r = await gw.client.post("/api/v1/tenants", json={"name": "Acme", "region": "eu"},
                             headers=bearer(tenant["api_key"]))
    assert r.status_code == 401


async def test_tenant_input_is_validated(gw):
    for body in ({"name": "", "region": "eu"}, {"name": "x" * 201, "region": "eu"}, {"name": "A", "region": "mars"},
                 {"region": "eu"}):
        r = await gw.client.post("/api/v1/tenants", json=body, headers=bearer(OPERATOR))
        assert r.status_code == 400, body
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await gw.client.post("/api/v1/tenants", content=b"{not json", headers=bearer(OPERATOR,
                             **{"content-type": "application/json"}))
    assert r.status_code == 400


async def test_api_requests_need_a_valid_bearer_key(gw):
    for headers in ({}, bearer("mrd_nope"), {"Authorization": "Token abc"}):
        for method, path in (("GET", "/api/v1/conversations"), ("GET", "/api/v1/tenants/current"),
                             ("GET", "/api/v1/api-keys"), ("POST", "/api/v1/api-keys"), ("GET", "/api/v1/unknown")):
            r = await gw.client.request(method, path, headers=headers, json={"name": "k"})
            assert r.status_code == 401, (method, path)
            assert r.headers["www-authenticate"].startswith("Bearer")
            assert r.json()["status"] == 401


async def test_api_keys_issue_list_revoke(gw):
    tenant = await create_tenant(gw)
    admin = tenant["api_key"]
    r = await gw.client.post("/api/v1/api-keys", json={"name": "ci"}, headers=bearer(admin))
    assert r.status_code == 201
    issued = r.json()
    assert issued["api_key"].startswith("mrd_") and issued["prefix"] == issued["api_key"][:8]
    assert issued["role"] == "admin" and issued["revoked_at"] is None
    listed = (await gw.client.get("/api/v1/api-keys", headers=bearer(admin))).json()
    assert [k["name"] for k in listed["items"]] == ["admin", "ci"]
    assert listed["next_cursor"] is None
    text = str(listed)
    assert issued["api_key"] not in text and admin not in text and hash_key(admin) not in text
    page1 = (await gw.client.get("/api/v1/api-keys?limit=1", headers=bearer(admin))).json()
    assert len(page1["items"]) == 1 and page1["next_cursor"]
    page2 = (await gw.client.get(f"/api/v1/api-keys?limit=1&cursor={page1['next_cursor']}",
                                 headers=bearer(admin))).json()
    assert [k["name"] for k in page2["items"]] == ["ci"]
    assert (await gw.client.get("/api/v1/api-keys?limit=500", headers=bearer(admin))).status_code == 400

    new_key = issued["api_key"]
    assert (await gw.client.get("/api/v1/tenants/current", headers=bearer(new_key))).status_code == 200  # cached
    r = await gw.client.delete(f"/api/v1/api-keys/{issued['id']}", headers=bearer(admin))
    assert r.status_code == 204
    r = await gw.client.get("/api/v1/tenants/current", headers=bearer(new_key))
    assert r.status_code == 401  # revocation clears the cache at once
    listed = (await gw.client.get("/api/v1/api-keys", headers=bearer(admin))).json()
    assert [k["revoked_at"] is not None for k in listed["items"]] == [False, True]
    await gw.drained()
    actions = [m.action for _, m in gw.events("gateway.audit.v1")]
    assert "api_key.revoked" in actions


async def test_another_tenants_key_is_not_found(gw):
    a, b = await create_tenant(gw, "A"), await create_tenant(gw, "B")
    b_keys = (await gw.client.get("/api/v1/api-keys", headers=bearer(b["api_key"]))).json()["items"]
    r = await gw.client.delete(f"/api/v1/api-keys/{b_keys[0]['id']}", headers=bearer(a["api_key"]))
    assert r.status_code == 404
    assert (await gw.client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=bearer(a["api_key"]))).status_code == 404
    assert (await gw.client.delete("/api/v1/api-keys/not-a-uuid", headers=bearer(a["api_key"]))).status_code == 400
    assert (await gw.client.get("/api/v1/tenants/current", headers=bearer(b["api_key"]))).status_code == 200
    r = await gw.client.post("/api/v1/api-keys", json={"name": ""}, headers=bearer(a["api_key"]))
    assert r.status_code == 400


async def test_ensure_demo_tenant(gw):
    kit = gw.kit
    tenant_id, key, created = await ensure_demo_tenant(kit, None)
    assert created and key.startswith("mrd_")
    # a restart without a token: a fresh usable admin key for the same tenant
    again_id, key2, created2 = await ensure_demo_tenant(kit, None)
    assert again_id == tenant_id and not created2 and key2 and key2 != key
    for k in (key, key2):
        me = await gw.client.get("/api/v1/tenants/current", headers=bearer(k))
        assert me.json()["id"] == str(tenant_id) and me.json()["name"] == "Demo shop"
        assert me.json()["region"] == "eu"
    # a given token becomes a key of the demo tenant (once)
    token = "mrd_bootstrap_" + "y" * 30
    for _ in range(2):
        tid, returned, created3 = await ensure_demo_tenant(kit, token)
        assert tid == tenant_id and returned == token and not created3
    me = await gw.client.get("/api/v1/tenants/current", headers=bearer(token))
    assert me.json()["id"] == str(tenant_id)
    keys = (await gw.client.get("/api/v1/api-keys", headers=bearer(token))).json()["items"]
    assert len(keys) == 3


async def test_ensure_demo_tenant_with_a_token_on_a_fresh_database(gw):
    token = "mrd_fixed_" + "z" * 30
    tenant_id, key, created = await ensure_demo_tenant(gw.kit, token)
    assert created and key == token
    me = await gw.client.get("/api/v1/tenants/current", headers=bearer(token))
    assert me.json()["id"] == str(tenant_id)
    assert gw.parts.seed is not None
    assert (await gw.parts.seed(token))[:2] == (tenant_id, token)
