import uuid

from tests.service.routing.conftest import get_agent, make_agent, set_presence


async def test_create_agent_normalises_and_starts_offline(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    r = await routing.client.post("/api/v1/agents", headers=routing.headers(tenant, **{"X-Meridian-Actor": "u1"}),
                                  json={"name": "Ana", "email": "Ana@Shop.example", "languages": ["ES", "pt-BR", "es"],
                                        "timezone": "America/Sao_Paulo", "capacity": 5})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "name", "email", "languages", "timezone", "capacity", "status",
                         "active_conversations", "created_at"}
    assert body["languages"] == ["es", "pt-br"] and body["email"] == "ana@shop.example"
    assert body["status"] == "offline" and body["active_conversations"] == 0 and body["capacity"] == 5
    assert await get_agent(routing, tenant, body["id"]) == body
    await routing.drained()
    [(meta, audit)] = routing.events("routing.audit.v1")
    assert audit.action == "agent.created" and audit.resource_id == body["id"] and audit.actor_id == "u1"
    assert meta.tenant_id == str(tenant)


async def test_create_agent_rejects_bad_input(routing):
    await routing.reset()
    h = routing.headers(uuid.uuid4())
    good = {"name": "Ana", "email": "ana@shop.example", "languages": ["es"], "timezone": "Europe/Madrid",
            "capacity": 2}
    cases = [
        {"timezone": "Mars/Olympus"},
        {"timezone": "Europe/../../etc/passwd"},
        {"languages": []},
        {"languages": ["not a tag!"]},
        {"capacity": 0},
        {"capacity": 101},
        {"capacity": "many"},
        {"email": "not-an-email"},
        {"name": ""},
    ]
    for change in cases:
        r = await routing.client.post("/api/v1/agents", headers=h, json={**good, **change})
        assert r.status_code == 400, (change, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    missing = dict(good)
    del missing["timezone"]
    assert (await routing.client.post("/api/v1/agents", headers=h, json=missing)).status_code == 400
    r = await routing.client.post("/api/v1/agents", headers=h, content=b"{not json",
                                  )
    assert r.status_code == 400
    assert (await routing.client.get("/api/v1/agents", headers=h)).json()["items"] == []


async def test_duplicate_email_in_the_tenant_is_a_conflict(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    await make_agent(routing, tenant, email="ana@shop.example", online=False)
    r = await routing.client.post("/api/v1/agents", headers=routing.headers(tenant), json={
        "name": "Other Ana", "email": "ANA@shop.example", "languages": ["en"], "timezone": "UTC", "capacity": 1})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    # another tenant may use the same email
    await make_agent(routing, uuid.uuid4(), email="ana@shop.example", online=False)


async def test_list_is_tenant_scoped_and_paginated(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    ids = [(await make_agent(routing, tenant, online=False, name=f"a{i}"))["id"] for i in range(3)]
    await make_agent(routing, uuid.uuid4(), online=False)
    h = routing.headers(tenant)
    page1 = (await routing.client.get("/api/v1/agents", headers=h, params={"limit": 2})).json()
    assert [a["id"] for a in page1["items"]] == ids[:2] and page1["next_cursor"]
    page2 = (await routing.client.get("/api/v1/agents", headers=h,
                                      params={"limit": 2, "cursor": page1["next_cursor"]})).json()
    assert [a["id"] for a in page2["items"]] == ids[2:] and page2["next_cursor"] is None
    assert (await routing.client.get("/api/v1/agents", headers=h, params={"limit": 0})).status_code == 400
    assert (await routing.client.get("/api/v1/agents", headers=h, params={"cursor": "zzz"})).status_code == 400


async def test_another_tenants_agent_is_not_found(routing):
    await routing.reset()
    agent = await make_agent(routing, uuid.uuid4(), online=False)
    other = routing.headers(uuid.uuid4())
    for method, url, body in [("GET", f"/api/v1/agents/{agent['id']}", None),
                              ("PATCH", f"/api/v1/agents/{agent['id']}", {"capacity": 5}),
                              ("PUT", f"/api/v1/agents/{agent['id']}/presence", {"status": "online"}),
                              ("GET", f"/api/v1/agents/{uuid.uuid4()}", None)]:
        r = await routing.client.request(method, url, headers=other, json=body)
        assert r.status_code == 404, (method, url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    assert (await routing.client.get("/api/v1/agents")).status_code == 401


async def test_presence_changes_emit_events_and_audit(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    agent = await make_agent(routing, tenant, online=False)
    online = await set_presence(routing, tenant, agent["id"], "online")
    assert online["status"] == "online"
    await set_presence(routing, tenant, agent["id"], "online")  # no change: no event
    assert (await set_presence(routing, tenant, agent["id"], "away"))["status"] == "away"
    r = await routing.client.put(f"/api/v1/agents/{agent['id']}/presence", headers=routing.headers(tenant),
                                 json={"status": "busy-ish"})
    assert r.status_code == 400
    await routing.drained()
    changes = routing.events("routing.agents.v1")
    assert [(m.agent_id, m.status) for _, m in changes] == [(agent["id"], "online"), (agent["id"], "away")]
    assert all(meta.partition_key == agent["id"] and meta.tenant_id == str(tenant) for meta, _ in changes)
    actions = [m.action for _, m in routing.events("routing.audit.v1")]
    assert actions.count("agent.presence_changed") == 2


async def test_patch_validates_and_updates(routing):
    await routing.reset()
    tenant = uuid.uuid4()
    agent = await make_agent(routing, tenant, online=False)
    h = routing.headers(tenant)
    r = await routing.client.patch(f"/api/v1/agents/{agent['id']}", headers=h,
                                   json={"languages": ["en", "DE"], "capacity": 7, "timezone": "Asia/Tokyo"})
    assert r.status_code == 200, r.text
    assert r.json()["languages"] == ["en", "de"] and r.json()["capacity"] == 7
    assert r.json()["timezone"] == "Asia/Tokyo"
    for bad in ({"timezone": "Nowhere"}, {"capacity": 0}, {"languages": []}):
        assert (await routing.client.patch(f"/api/v1/agents/{agent['id']}", headers=h, json=bad)).status_code == 400
    assert (await get_agent(routing, tenant, agent["id"]))["capacity"] == 7
