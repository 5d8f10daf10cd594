"""Decoding and validating the body of an ``api`` channel webhook (after the signature is checked).

``{"id": str, "sender": {"id": str, "name"?: str, "email"?: str, "phone"?: str}, "text": str,
"timestamp"?: ISO 8601}``. Every problem is reported as a field error; strings must be valid
Unicode without NUL characters (PostgreSQL cannot store them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from meridian_ingest.domain.errors import BodyNotUtf8, MalformedJson, PayloadInvalid
from meridian_ingest.domain.model import InboundMessage, Sender

MAX_ID_LENGTH = 256
MAX_SENDER_FIELD = 512


def decode_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyNotUtf8(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise MalformedJson(f"body is not valid JSON: {exc}" if isinstance(exc, json.JSONDecodeError)
                            else "body is nested too deeply") from None


def _string(errors: list[dict[str, str]], obj: dict[str, Any], key: str, path: str, *, required: bool,
            max_length: int | None = None) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            errors.append({"field": path, "message": "is required", "code": "missing"})
        return ""
    if not isinstance(value, str):
        errors.append({"field": path, "message": "must be a string", "code": "string_type"})
        return ""
    if required and not value.strip():
        errors.append({"field": path, "message": "must not be empty", "code": "string_empty"})
        return ""
    if "\x00" in value:
        errors.append({"field": path, "message": "must not contain NUL characters", "code": "string_nul"})
        return ""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        errors.append({"field": path, "message": "contains unpaired surrogates", "code": "string_unicode"})
        return ""
    if max_length is not None and len(value) > max_length:
        errors.append({"field": path, "message": f"must be at most {max_length} characters", "code": "string_too_long"})
        return ""
    return value


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 (``Z`` accepted); a naive time is taken as UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def validate_api_payload(payload: Any) -> InboundMessage:
    if not isinstance(payload, dict):
        raise PayloadInvalid("body must be a JSON object",
                             errors=[{"field": "body", "message": "must be an object", "code": "dict_type"}])
    errors: list[dict[str, str]] = []
    external_id = _string(errors, payload, "id", "id", required=True, max_length=MAX_ID_LENGTH)
    text = _string(errors, payload, "text", "text", required=True)
    sender_raw = payload.get("sender")
    sender = Sender(id="")
    if sender_raw is None:
        errors.append({"field": "sender", "message": "is required", "code": "missing"})
    elif not isinstance(sender_raw, dict):
        errors.append({"field": "sender", "message": "must be an object", "code": "dict_type"})
    else:
        sender = Sender(
            id=_string(errors, sender_raw, "id", "sender.id", required=True, max_length=MAX_ID_LENGTH),
            name=_string(errors, sender_raw, "name", "sender.name", required=False, max_length=MAX_SENDER_FIELD),
            email=_string(errors, sender_raw, "email", "sender.email", required=False, max_length=MAX_SENDER_FIELD),
            phone=_string(errors, sender_raw, "phone", "sender.phone", required=False, max_length=MAX_SENDER_FIELD),
        )
    sent_at: datetime | None = None
    raw_ts = payload.get("timestamp")
    if raw_ts is not None:
        if not isinstance(raw_ts, str):
            errors.append({"field": "timestamp", "message": "must be an ISO 8601 string", "code": "string_type"})
        else:
            try:
                sent_at = parse_timestamp(raw_ts)
            except ValueError:
                errors.append({"field": "timestamp", "message": "is not ISO 8601", "code": "datetime_parsing"})
    if errors:
        raise PayloadInvalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return InboundMessage(external_id=external_id, thread_id=sender.id, sender=sender, text=text, sent_at=sent_at)
