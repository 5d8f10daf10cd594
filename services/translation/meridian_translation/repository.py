"""Every query of translation; every method takes ``tenant_id``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from meridian.db.bulk import bind_arrays, unnest_rows
from meridian.db.driver import DriverStatement
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from meridian_translation.tables import detections

# built once, rows as arrays: one SQL text whatever the batch size
_new = unnest_rows("new_detections", *((c.name, c.type) for c in detections.c))
_ADD_DETECTIONS = DriverStatement(insert(detections).from_select(
    [c.name for c in detections.c], select(*(_new.c[c.name] for c in detections.c)),
).on_conflict_do_nothing(index_elements=[detections.c.received_event_id]).returning(detections.c.id))


@dataclass(frozen=True, slots=True)
class NewDetection:
    id: UUID
    tenant_id: UUID
    received_event_id: UUID
    language: str
    confidence: float
    created_at: datetime


class DetectionRepository:
    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db  # the driver connection beneath the unit of work's: the batch insert runs there

    async def add_many(self, new: Sequence[NewDetection]) -> set[UUID]:
        """Insert detections in one statement; returns the ids stored. A message detected before
        (a redelivered event), or earlier in ``new``, is left out."""
        if not new:
            return set()
        arrays = bind_arrays("new_detections", **{c.name: [getattr(d, c.name) for d in new] for c in detections.c})
        return {row[0] for row in await _ADD_DETECTIONS.fetch(self.db, arrays)}
