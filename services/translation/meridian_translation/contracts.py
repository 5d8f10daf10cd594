"""Domain ↔ proto."""

from __future__ import annotations

from meridian.contracts.translation import messages_v1_pb2 as translation_v1

from meridian_translation.domain.detection import Detection


def message_translated(message_id: str, conversation_id: str, detection: Detection
                       ) -> translation_v1.MessageTranslated:
    # translation itself is a later issue: target_language and translated_text stay empty
    return translation_v1.MessageTranslated(message_id=message_id, conversation_id=conversation_id,
                                            detected_language=detection.language, confidence=detection.confidence,
                                            target_language="", translated_text="")
