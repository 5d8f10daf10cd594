"""In-memory cache of decrypted inbox credentials for the webhook path and the delivery worker.

Small LRU with a TTL: a hit costs no database round trip and no decryption. Deleting an inbox
invalidates this process's entry; other processes of ingest drop theirs within the TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from uuid import UUID

from meridian_ingest.domain.model import InboxCredentials

Loader = Callable[[UUID], Awaitable[InboxCredentials | None]]


class InboxCache:
    def __init__(self, loader: Loader, *, ttl: float = 30.0, size: int = 10_000,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._loader = loader
        self._ttl = ttl
        self._size = size
        self._now = monotonic
        self._entries: OrderedDict[UUID, tuple[float, InboxCredentials]] = OrderedDict()

    async def get(self, inbox_id: UUID) -> InboxCredentials | None:
        entry = self._entries.get(inbox_id)
        now = self._now()
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(inbox_id)
            return entry[1]
        creds = await self._loader(inbox_id)
        if creds is None:
            self._entries.pop(inbox_id, None)
            return None
        if self._ttl > 0:
            self._entries[inbox_id] = (now + self._ttl, creds)
            self._entries.move_to_end(inbox_id)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return creds

    def invalidate(self, inbox_id: UUID) -> None:
        self._entries.pop(inbox_id, None)

    def clear(self) -> None:
        self._entries.clear()
