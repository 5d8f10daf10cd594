"""Which service owns a public path: the first segment after ``/api/v1/`` decides."""

from __future__ import annotations

GATEWAY = "gateway"

OWNERS: dict[str, str] = {
    "inboxes": "ingest",
    "deliveries": "ingest",
    "conversations": "ticket",
    "contacts": "ticket",
    "tickets": "ticket",
    "agents": "routing",
    "queue": "routing",
    "languages": "translation",
    "kb": "knowledge-base",
    "audit-events": "compliance",
    "tenants": GATEWAY,
    "api-keys": GATEWAY,
}

API_PREFIX = "/api/v1/"


def owner_of_resource(resource: str) -> str | None:
    return OWNERS.get(resource)


def owner_of_path(path: str) -> str | None:
    """``/api/v1/conversations/1/messages`` → ``ticket``; unknown or non-API paths → None."""
    if not path.startswith(API_PREFIX):
        return None
    resource = path[len(API_PREFIX):].split("/", 1)[0]
    return OWNERS.get(resource)


def forwarded_services() -> list[str]:
    """Every service the gateway forwards to, in a stable order."""
    return sorted({s for s in OWNERS.values() if s != GATEWAY})
