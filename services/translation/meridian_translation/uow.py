"""TranslationUow: translation's one write, a batch of detections and their events in one statement
(``store_detections``, without entering the unit of work)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from meridian.db.uow import SqlUnitOfWork

from meridian_translation.repository import NewDetection, store_detections_sql


class TranslationUow(SqlUnitOfWork):
    async def store_detections(self, new: Sequence[NewDetection]) -> set[UUID]:
        """Store ``new`` (one per received event) and, for those stored, the events queued for them
        (one per detection, emitted in the same order), in one statement; returns the received
        event ids stored. A message detected before is left out, and so is its event."""
        if not new:
            return set()
        rows = await self.store_alone(store_detections_sql, *[[getattr(d, name) for d in new] for name in (
            "id", "tenant_id", "received_event_id", "language", "confidence", "created_at")])
        return {row["received_event_id"] for row in rows}
