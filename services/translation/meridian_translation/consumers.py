"""Translation's event subscriptions. A batch of MessageReceived is checked event by event, then its
texts are detected in one parallel call (in a worker thread) and its detections and their
MessageTranslated events stored in one statement (``handlers.store_detections``): no transaction,
no processed-event markers (``detections`` is unique per received event, so a redelivered event
stores and emits nothing)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from meridian.bus.consumer import EventSubscription
from meridian.contracts.ingest import messages_v1_pb2 as ingest_messages_v1

from meridian_translation.detector import LanguageDetector
from meridian_translation.handlers import on_message_received, store_detections

GROUP = "translation.detect"


def subscriptions(detector: LanguageDetector, uow_factory: Callable[[], Any]) -> list[EventSubscription]:
    return [
        EventSubscription(topics=["ingest.messages.v1"], group=GROUP, uses_db=False,
                          handlers={ingest_messages_v1.MessageReceived: on_message_received},
                          after_batch=functools.partial(store_detections, detector=detector,
                                                        uow_factory=uow_factory)),
    ]
