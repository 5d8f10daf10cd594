"""Translation's use cases and event handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple
from uuid import UUID

from meridian.contracts.ingest import messages_v1_pb2 as ingest_messages_v1
from meridian.db.uow import CapturedContext
from meridian.events.envelope import EventMeta
from meridian.ids import uuid7
from opentelemetry import context as otel_context

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


class Received(NamedTuple):
    """A MessageReceived checked by its handler, with the context to emit its detection under."""

    message: ingest_messages_v1.MessageReceived
    meta: EventMeta
    tenant_id: UUID
    context: CapturedContext


async def on_message_received(message: ingest_messages_v1.MessageReceived, meta: EventMeta) -> Received:
    """Check an inbound message's event; its language is detected with its batch's others
    (``store_detections``). A bad event raises (dead-lettered)."""
    return Received(message, meta, _uuid(meta.tenant_id, "ce_tenant"), (meta, otel_context.get_current()))


async def store_detections(batch: list[Received], *, detector: LanguageDetector,
                           uow_factory: Callable[[], TranslationUow]) -> None:
    """translation.detect, once per batch: detect every text in one parallel detector call, then
    store each message's detection and its MessageTranslated (under the received event's partition
    key, caused by it; ticket threads the same event meanwhile and joins the two) in one statement.
    A message detected before (a redelivered event) is neither stored nor emitted again."""
    received: dict[UUID, Received] = {}
    for r in batch:   # an event redelivered within the batch: once, where it came first
        received.setdefault(r.meta.id, r)
    texts = list(dict.fromkeys(r.message.text for r in received.values()))
    detected = dict(zip(texts, await detector.detect_many(texts), strict=True))
    uow = uow_factory()
    now = uow.clock.now()
    new = []
    for r in received.values():
        detection = detected[r.message.text]
        new.append(NewDetection(id=uuid7(), tenant_id=r.tenant_id, received_event_id=r.meta.id,
                                language=detection.language, confidence=detection.confidence, created_at=now))
        with uow.restored(r.context):
            uow.emit(contracts.inbound_detected(str(r.meta.id), detection),
                     key=r.meta.partition_key or str(r.meta.id), tenant_id=r.tenant_id)
    stored = await uow.store_detections(new)
    if log.isEnabledFor(logging.DEBUG):  # a line per message: its fields only built when wanted
        for d in new:
            if d.received_event_id in stored:
                log.debug("language detected", extra={"tenant_id": str(d.tenant_id), "language": d.language,
                                                      "received_event_id": str(d.received_event_id)})


async def detect_language(detector: LanguageDetector, text: str) -> Detection:
    """The sync endpoint's use case (a human is waiting; nothing is stored)."""
    if not text.strip():
        raise TextEmpty("text must contain something to detect",
                        errors=[{"field": "text", "message": "must not be empty"}])
    return await detector.detect(text)
