"""The ``api`` channel: the shop's own system posts signed JSON webhooks and receives signed callbacks.

Inbound: ``POST /webhooks/api/{inbox_id}`` with ``X-Meridian-Signature: sha256=<hex HMAC-SHA256(secret,
raw body)>``. Outbound: ``POST <callback_url>`` with ``{"id", "conversation_id", "recipient": {"id"},
"text", "language"}`` signed the same way with the inbox secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from meridian_ingest.domain import signature
from meridian_ingest.domain.delivery import AttemptResult, classify_status, transport_failure
from meridian_ingest.domain.errors import InboxSettingsInvalid, SignatureInvalid
from meridian_ingest.domain.inbound import decode_json, validate_api_payload
from meridian_ingest.domain.model import Delivery, InboundMessage, InboxCredentials

SIGNATURE_HEADER = "x-meridian-signature"
MAX_URL_LENGTH = 2048


def valid_http_url(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or any(c.isspace() for c in value):
        return False
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def callback_body(delivery: Delivery) -> bytes:
    return json.dumps(
        {"id": delivery.message_id, "conversation_id": delivery.conversation_id,
         "recipient": {"id": delivery.recipient_id}, "text": delivery.text, "language": delivery.language},
        ensure_ascii=False, separators=(",", ":"),
    ).encode()


class ApiChannel:
    name = "api"

    def validate_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        url = settings.get("callback_url")
        if url is None:
            raise InboxSettingsInvalid("settings.callback_url is required", errors=[
                {"field": "settings.callback_url", "message": "is required", "code": "missing"}])
        if not valid_http_url(url):
            raise InboxSettingsInvalid("settings.callback_url must be an http(s) URL", errors=[
                {"field": "settings.callback_url", "message": "must be an http(s) URL", "code": "url_parsing"}])
        return {"callback_url": url}

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        if not signature.verify(secret, body, headers.get(SIGNATURE_HEADER)):
            raise SignatureInvalid("X-Meridian-Signature is missing or does not match the body")

    def parse(self, body: bytes) -> InboundMessage:
        return validate_api_payload(decode_json(body))

    async def deliver(self, client: httpx.AsyncClient, inbox: InboxCredentials, delivery: Delivery) -> AttemptResult:
        body = callback_body(delivery)
        headers = {"Content-Type": "application/json", "X-Meridian-Signature": signature.sign(inbox.secret, body)}
        try:
            response = await client.post(inbox.settings["callback_url"], content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return transport_failure(f"callback timed out ({type(exc).__name__})")
        except httpx.HTTPError as exc:  # connection refused/reset, DNS, protocol errors
            return transport_failure(f"callback unreachable ({type(exc).__name__})")
        return classify_status(response.status_code)
