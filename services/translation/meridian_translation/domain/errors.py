"""Translation's problem types."""

from __future__ import annotations

from meridian.errors import ValidationFailed


class TextEmpty(ValidationFailed):
    type = "text-empty"
    title = "Text is empty"


class MessageEventInvalid(ValidationFailed):
    type = "message-event-invalid"
    title = "Message event is invalid"
