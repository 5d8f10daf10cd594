"""``X-Meridian-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`` for webhooks and callbacks."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of ``header`` against the signature of the exact ``body`` bytes."""
    if not header:
        return False
    given = header.strip()
    if not given.lower().startswith(PREFIX):
        return False
    expected = sign(secret, body).encode()
    candidate = (PREFIX + given[len(PREFIX):].lower()).encode("utf-8", "replace")
    return hmac.compare_digest(expected, candidate)
