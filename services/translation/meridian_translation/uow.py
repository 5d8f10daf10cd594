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
        self.detections = DetectionRepository(conn)
        self.detected_ahead: dict[str, Detection] = {}
        self._new: list[tuple[NewDetection, Callable[[], None]]] = []

    def add_detection(self, detection: NewDetection, on_stored: Callable[[], None]) -> None:
        """Store ``detection`` at commit with the transaction's others, then call ``on_stored``
        (under the cause and trace context of now) unless the message had been detected before."""
        self._new.append((detection, self.later(on_stored)))

    async def commit(self) -> None:
        staged, self._new = self._new, []
        stored = await self.detections.add_many([d for d, _ in staged])
        for detection, on_stored in staged:
            if detection.id in stored:
                on_stored()
        await super().commit()
