"""API keys: ``mrd_`` + 32 random bytes (urlsafe base64); only the SHA-256 hex is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "mrd_"
KEY_BYTES = 32
DISPLAY_PREFIX_LEN = 8
ADMIN = "admin"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LEN]


def tokens_equal(given: str, expected: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(authorization: str | None) -> str | None:
    """``Bearer <token>`` → token; anything else → None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
