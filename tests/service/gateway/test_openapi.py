async def test_one_document_for_the_whole_public_api(gw):
    r = await gw.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    assert "/api/v1/tenants" in paths and "/api/v1/api-keys" in paths and "/api/v1/api-keys/{key_id}" in paths
    assert "/api/v1/conversations/{conversation_id}" in paths  # from the fake ticket
    assert "/api/v1/agents-shared" in paths  # from the fake routing
    assert not any(p.startswith("/internal") or p in ("/healthz", "/readyz") for p in paths)
    schemas = doc["components"]["schemas"]
    assert "ConversationRead" in schemas and "TenantCreated" in schemas
    # both fakes define "Shared" differently: the later one (ticket, in name order) is prefixed
    assert set(schemas["Shared"]["properties"]) == {"agent_count"}
    assert set(schemas["ticket_Shared"]["properties"]) == {"owner", "only_in"}
    ref = paths["/api/v1/shared-ticket"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref["$ref"] == "#/components/schemas/ticket_Shared"
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/tenants"]["post"]["security"] == [{"operatorToken": []}]
    # Swagger UI
    assert (await gw.client.get("/docs")).status_code == 200


async def test_health(gw):
    assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
    r = await gw.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == "ok"
