"""A channel adapter knows one channel's wire formats: inbox settings, webhook verification and
parsing, and how to deliver an outbound message. Adding a channel = one adapter + registering it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from meridian_ingest.domain.delivery import AttemptResult
from meridian_ingest.domain.model import Delivery, InboundMessage, InboxCredentials


class ChannelAdapter(Protocol):
    name: str

    def validate_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Normalized settings to store, or raise InboxSettingsInvalid listing field errors."""
        ...

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise SignatureInvalid unless the raw ``body`` is authentic."""
        ...

    def parse(self, body: bytes) -> InboundMessage:
        """Decode and validate a verified body; raise BodyNotUtf8/MalformedJson/PayloadInvalid."""
        ...

    async def deliver(self, client: httpx.AsyncClient, inbox: InboxCredentials, delivery: Delivery) -> AttemptResult:
        """One send attempt; never raises for channel-side failures (they are AttemptResults)."""
        ...
