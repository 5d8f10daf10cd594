"""Translation's event subscriptions.

``PrefetchingConsumer`` detects the languages of a whole batch in one parallel call (in a worker
thread) before the per-event handlers run, so a batch of 500 messages costs one detector call and
no event-loop stalls.
"""

from __future__ import annotations

import functools

from meridian.bus.base import Record
from meridian.bus.consumer import EventConsumer, EventSubscription
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.events.envelope import EventDecodeError, decode
from meridian.events.registry import EventTypeUnknown

from meridian_translation.detector import LanguageDetector
from meridian_translation.handlers import on_message_threaded

GROUP = "translation.detect"


def subscriptions(detector: LanguageDetector) -> list[EventSubscription]:
    return [
        EventSubscription(topics=["ticket.messages.v1"], group=GROUP,
                          handlers={messages_v1.MessageThreaded: functools.partial(on_message_threaded,
                                                                                   detector=detector)}),
    ]


class PrefetchingConsumer(EventConsumer):
    def __init__(self, *args, detector: LanguageDetector, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._detector = detector

    async def handle_batch(self, records: list[Record]) -> None:
        texts: list[str] = []
        for record in records:
            try:
                _, message = decode(record)
            except (EventDecodeError, EventTypeUnknown):
                continue  # the base class dead-letters it
            if isinstance(message, messages_v1.MessageThreaded):
                texts.append(message.text)
        try:
            if len(texts) > 1:
                await self._detector.prefetch(texts)
            await super().handle_batch(records)
        finally:
            self._detector.forget()
