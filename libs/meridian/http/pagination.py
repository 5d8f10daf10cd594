"""Cursor pagination: an opaque cursor encodes the sort key of the last item returned."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from meridian.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class InvalidCursor(ValidationFailed):
    type = "invalid-cursor"
    title = "Cursor is invalid"


def encode_cursor(created_at: datetime, item_id: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(item_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, item = json.loads(raw)
        return datetime.fromisoformat(created), UUID(item)
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("cursor is not one this API issued") from exc


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}",
                               errors=[{"field": "limit", "message": f"must be 1..{MAX_LIMIT}"}])
    return limit


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """``items`` fetched with ``limit + 1``; ``key(item)`` → (created_at, id) of an item."""
    has_more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(*key(items[-1])) if has_more and items else None
    return {"items": items, "next_cursor": next_cursor}
