"""TranslationUow: translation's repositories on one transaction."""

from __future__ import annotations

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_translation.repository import DetectionRepository


class TranslationUow(SqlUnitOfWork):
    detections: DetectionRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.detections = DetectionRepository(conn)
