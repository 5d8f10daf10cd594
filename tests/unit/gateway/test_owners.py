import pytest
from meridian_gateway.domain.owners import forwarded_services, owner_of_path, owner_of_resource


@pytest.mark.parametrize(("path", "owner"), [
    ("/api/v1/inboxes", "ingest"),
    ("/api/v1/inboxes/1/rotate", "ingest"),
    ("/api/v1/deliveries/x", "ingest"),
    ("/api/v1/conversations/1/messages", "ticket"),
    ("/api/v1/contacts", "ticket"),
    ("/api/v1/tickets/9", "ticket"),
    ("/api/v1/agents/1/presence", "routing"),
    ("/api/v1/queue", "routing"),
    ("/api/v1/languages/detect", "translation"),
    ("/api/v1/kb/articles", "knowledge-base"),
    ("/api/v1/audit-events", "compliance"),
    ("/api/v1/tenants", "gateway"),
    ("/api/v1/api-keys/1", "gateway"),
    ("/api/v1/unknown", None),
    ("/api/v1/", None),
    ("/api/v2/inboxes", None),
    ("/webhooks/api/1", None),
    ("/api/v1/conversationsX", None),
])
def test_owner_of_path(path, owner):
    assert owner_of_path(path) == owner


def test_owner_of_resource_and_forwarded_services():
    assert owner_of_resource("kb") == "knowledge-base"
    assert owner_of_resource("nope") is None
    assert forwarded_services() == ["compliance", "ingest", "knowledge-base", "routing", "ticket", "translation"]
