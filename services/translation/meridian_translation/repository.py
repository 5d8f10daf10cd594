"""Every query of translation; every method takes ``tenant_id``."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_translation.tables import detections

# built once: building a statement costs more CPU than running it (one per inbound message)
_ADD_DETECTION = insert(detections).values({c.name: bindparam(c.name, type_=c.type) for c in detections.c}
                                           ).on_conflict_do_nothing(index_elements=[detections.c.message_id])


class DetectionRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, id: UUID, tenant_id: UUID, message_id: UUID, conversation_id: UUID, language: str,
                  confidence: float, now: datetime) -> bool:
        """False when this message was already detected (a re-emitted or redelivered event)."""
        result = await self.conn.execute(_ADD_DETECTION, {
            "id": id, "tenant_id": tenant_id, "message_id": message_id, "conversation_id": conversation_id,
            "language": language, "confidence": confidence, "created_at": now})
        return result.rowcount == 1

    async def get(self, tenant_id: UUID, message_id: UUID) -> tuple[str, float] | None:
        row = (await self.conn.execute(select(detections.c.language, detections.c.confidence).where(
            detections.c.tenant_id == tenant_id, detections.c.message_id == message_id))).first()
        return (row.language, row.confidence) if row else None
