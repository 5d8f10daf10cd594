from meridian_gateway.openapi import merge

GATEWAY = {"openapi": "3.1.0", "info": {"title": "Meridian API"},
           "paths": {"/api/v1/tenants": {"post": {"operationId": "post_tenant"}}},
           "components": {"schemas": {"TenantRead": {"type": "object"}, "Shared": {"type": "string"}}}}


def owner(paths, schemas):
    return {"openapi": "3.1.0", "paths": paths, "components": {"schemas": schemas}}


def test_merge_keeps_public_paths_prefixes_clashes_and_adds_bearer():
    ticket = owner({
        "/api/v1/conversations": {"get": {"operationId": "list", "responses": {"200": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Shared"}}}}}}},
        "/internal/rebuild": {"post": {"operationId": "rebuild"}},
        "/healthz": {"get": {}},
    }, {"Shared": {"type": "object", "title": "ticket's"}, "ConversationRead": {"type": "object"}})
    ingest = owner({"/webhooks/{channel}/{inbox_id}": {"post": {"operationId": "receive"}},
                    "/api/v1/inboxes": {"get": {"operationId": "list"}}},
                   {"Shared": {"type": "string"}})
    doc = merge(GATEWAY, {"ticket": ticket, "ingest": ingest})
    assert set(doc["paths"]) == {"/api/v1/tenants", "/api/v1/conversations", "/webhooks/{channel}/{inbox_id}",
                                 "/api/v1/inboxes"}
    schemas = doc["components"]["schemas"]
    assert schemas["Shared"] == {"type": "string"}  # identical in ingest: not renamed
    assert schemas["ticket_Shared"]["title"] == "ticket's"
    ref = doc["paths"]["/api/v1/conversations"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ref["schema"]["$ref"] == "#/components/schemas/ticket_Shared"
    assert "ConversationRead" in schemas and "TenantRead" in schemas
    ops = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ops) == len(set(ops))
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A tenant API key (mrd_…)."}
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/webhooks/{channel}/{inbox_id}"]["post"]["security"] == []
    assert GATEWAY["paths"].keys() == {"/api/v1/tenants"}  # input untouched
