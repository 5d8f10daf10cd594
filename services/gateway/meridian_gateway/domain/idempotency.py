"""Idempotency-Key rules: what identifies a request and what may be replayed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_KEY_LENGTH = 255


def body_fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    method: str
    path: str
    body_sha256: str
    status: int | None  # None while the first request is in flight
    body: bytes | None
    content_type: str | None
    created_at: datetime
    expires_at: datetime

    def matches(self, method: str, path: str, body_sha256: str) -> bool:
        return self.method == method and self.path == path and self.body_sha256 == body_sha256

    @property
    def completed(self) -> bool:
        return self.status is not None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def abandoned(self, now: datetime, in_flight_timeout: timedelta) -> bool:
        """An in-flight claim whose request never finished (its process died)."""
        return not self.completed and self.created_at + in_flight_timeout <= now


def storable(status: int) -> bool:
    """Only final answers are kept: 2xx and 4xx; 5xx (and 1xx/3xx) may be retried."""
    return 200 <= status < 300 or 400 <= status < 500


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()
