"""Channel adapter registry: channel name → adapter (verify / parse / deliver)."""

from __future__ import annotations

from meridian_ingest.channels.api import ApiChannel
from meridian_ingest.channels.base import ChannelAdapter
from meridian_ingest.domain.errors import ChannelUnknown

ADAPTERS: dict[str, ChannelAdapter] = {a.name: a for a in (ApiChannel(),)}


def adapter_for(channel: str) -> ChannelAdapter:
    try:
        return ADAPTERS[channel]
    except (KeyError, TypeError):
        raise ChannelUnknown(f"channel {channel!r} is not supported (supported: {', '.join(sorted(ADAPTERS))})",
                             errors=[{"field": "channel", "message": f"must be one of {sorted(ADAPTERS)}",
                                      "code": "enum"}]) from None


__all__ = ["ADAPTERS", "ChannelAdapter", "adapter_for"]
