"""TranslationUow: translation's repositories on one transaction, and the languages a consumer
batch detected ahead of its handlers (``detected_ahead``, by text)."""

from __future__ import annotations

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_translation.domain.detection import Detection
from meridian_translation.repository import DetectionRepository


class TranslationUow(SqlUnitOfWork):
    detections: DetectionRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.detections = DetectionRepository(conn)
        self.detected_ahead: dict[str, Detection] = {}
