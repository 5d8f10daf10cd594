"""Translation's event subscriptions. A batch's texts are detected in one parallel call (in a worker
thread) by the prepare step, before the per-event handlers run: one detector call per batch and no
event-loop stalls."""

from __future__ import annotations

import functools

from meridian.bus.consumer import EventSubscription
from meridian.contracts.ingest import messages_v1_pb2 as ingest_messages_v1

from meridian_translation.detector import LanguageDetector
from meridian_translation.handlers import on_message_received, prepare_detections

GROUP = "translation.detect"


def subscriptions(detector: LanguageDetector) -> list[EventSubscription]:
    return [
        EventSubscription(topics=["ingest.messages.v1"], group=GROUP,
                          handlers={ingest_messages_v1.MessageReceived: functools.partial(on_message_received,
                                                                                          detector=detector)},
                          prepare=functools.partial(prepare_detections, detector=detector)),
    ]
