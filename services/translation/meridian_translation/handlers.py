"""Translation's use cases and event handlers (no commits here: the runner commits)."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from meridian.contracts.ingest import messages_v1_pb2 as ingest_messages_v1
from meridian.events.envelope import EventMeta
from meridian.ids import uuid7

from meridian_translation import contracts
from meridian_translation.detector import LanguageDetector
from meridian_translation.domain.detection import Detection
from meridian_translation.domain.errors import MessageEventInvalid, TextEmpty
from meridian_translation.repository import NewDetection
from meridian_translation.uow import TranslationUow

log = logging.getLogger("meridian.translation")


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise MessageEventInvalid(f"{field} must be a UUID",
                                  errors=[{"field": field, "message": "must be a UUID"}]) from None


async def prepare_detections(events: list[tuple[Any, EventMeta]], uow: TranslationUow, *,
                             detector: LanguageDetector) -> None:
    """translation.detect, once per batch: detect every text in one parallel detector call."""
    texts = list(dict.fromkeys(m.text for m, _ in events if isinstance(m, ingest_messages_v1.MessageReceived)))
    uow.detected_ahead.update(zip(texts, await detector.detect_many(texts), strict=True))


async def on_message_received(message: ingest_messages_v1.MessageReceived, meta: EventMeta, uow: TranslationUow,
                              *, detector: LanguageDetector) -> None:
    """Detect the language of an inbound message once (per MessageReceived event) → MessageTranslated,
    under the received event's partition key; ticket threads the same event meanwhile and joins the
    two. The detection is stored at commit with the batch's others."""
    tenant_id = _uuid(meta.tenant_id, "ce_tenant")
    detection = uow.detected_ahead.get(message.text) or await detector.detect(message.text)
    received = str(meta.id)
    new = NewDetection(id=uuid7(), tenant_id=tenant_id, received_event_id=meta.id,
                       language=detection.language, confidence=detection.confidence, created_at=uow.clock.now())

    def detected() -> None:
        uow.emit(contracts.inbound_detected(received, detection), key=meta.partition_key or received,
                 tenant_id=tenant_id)
        if log.isEnabledFor(logging.DEBUG):  # a line per message: its fields only built when wanted
            log.debug("language detected", extra={"tenant_id": meta.tenant_id, "received_event_id": received,
                                                  "language": detection.language})

    uow.add_detection(new, detected)   # a message detected before is not detected again


async def detect_language(detector: LanguageDetector, text: str) -> Detection:
    """The sync endpoint's use case (a human is waiting; nothing is stored)."""
    if not text.strip():
        raise TextEmpty("text must contain something to detect",
                        errors=[{"field": "text", "message": "must not be empty"}])
    return await detector.detect(text)
