"""Ingest's problem types."""

from __future__ import annotations

from meridian.errors import DomainError, NotFound, Unauthorized, ValidationFailed


class InboxNotFound(NotFound):
    type = "inbox-not-found"
    title = "Inbox not found"


class ChannelUnknown(ValidationFailed):
    type = "channel-unknown"
    title = "Channel is not supported"


class InboxSettingsInvalid(ValidationFailed):
    type = "inbox-settings-invalid"
    title = "Inbox settings are invalid"


class SignatureInvalid(Unauthorized):
    type = "signature-invalid"
    title = "Webhook signature is missing or wrong"


class BodyNotUtf8(ValidationFailed):
    type = "invalid-encoding"
    title = "Request body is not valid UTF-8"


class MalformedJson(ValidationFailed):
    type = "malformed-json"
    title = "Malformed JSON"


class PayloadInvalid(ValidationFailed):
    type = "validation-error"
    title = "Webhook payload is invalid"


class IngestUnavailable(DomainError):
    type = "ingest-unavailable"
    title = "Message could not be stored; retry later"
    status = 503
