"""TranslationUow: translation's repositories on one transaction, the languages a consumer batch
detected ahead of its handlers (``detected_ahead``, by text), and the handlers' new detections,
stored together at commit (``add_detection``)."""

from __future__ import annotations

from collections.abc import Callable

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_translation.domain.detection import Detection
from meridian_translation.repository import DetectionRepository, NewDetection


class TranslationUow(SqlUnitOfWork):
    detections: DetectionRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.detections = DetectionRepository(self.db)
        self.detected_ahead: dict[str, Detection] = {}

    def add_detection(self, detection: NewDetection, on_stored: Callable[[], None]) -> None:
        """Store ``detection`` at commit with the transaction's others, in one statement;
        ``on_stored`` runs unless the message had been detected before (see ``store_at_commit``)."""
        self.store_at_commit(self.detections.add_many, detection, on_stored)
