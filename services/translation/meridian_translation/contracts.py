"""Domain ↔ proto."""

from __future__ import annotations

from meridian.contracts.translation import messages_v1_pb2 as translation_v1

from meridian_translation.domain.detection import Detection


def inbound_detected(received_event_id: str, detection: Detection) -> translation_v1.MessageTranslated:
    """The language of the inbound message of ingest's MessageReceived ``received_event_id``; ticket
    joins it to the message it stores for the same event. Translation itself is a later issue:
    target_language and translated_text stay empty."""
    return translation_v1.MessageTranslated(received_event_id=received_event_id,
                                            detected_language=detection.language, confidence=detection.confidence,
                                            target_language="", translated_text="")
