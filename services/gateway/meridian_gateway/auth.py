"""Bearer API-key authentication with a short in-memory cache (key hash → principal).

Revoking a key clears its entry here at once; other gateway processes drop it within the TTL.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from meridian_gateway.domain.keys import hash_key
from meridian_gateway.domain.model import Principal

Lookup = Callable[[str], Awaitable[Principal | None]]


class ApiKeyAuthenticator:
    def __init__(self, lookup: Lookup, *, ttl: float, size: int) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._size = size
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def authenticate(self, token: str | None) -> Principal | None:
        if not token:
            return None
        key_hash = hash_key(token)
        now = time.monotonic()
        hit = self._cache.get(key_hash)
        if hit is not None:
            if hit[0] > now:
                return hit[1]
            self._cache.pop(key_hash, None)
        principal = await self._lookup(key_hash)
        if principal is not None and self._ttl > 0:
            if len(self._cache) >= self._size:
                self._evict(now)
            self._cache[key_hash] = (now + self._ttl, principal)
        return principal

    def forget(self, key_hash: str) -> None:
        self._cache.pop(key_hash, None)

    def clear(self) -> None:
        self._cache.clear()

    def _evict(self, now: float) -> None:
        for h in [h for h, (exp, _) in self._cache.items() if exp <= now]:
            del self._cache[h]
        if len(self._cache) >= self._size:
            self._cache.clear()
