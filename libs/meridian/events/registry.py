"""ce_type → generated message class, and message class → topic.

Every message of ``meridian.contracts`` is registered; the topic of a message comes from its proto
file (``ticket/messages_v1.proto`` → ``ticket.messages.v1``). Audit records are the one stream that
every service publishes, each to ``<service>.audit.v1``.
"""

from __future__ import annotations

import functools

from google.protobuf.message import Message


class EventTypeUnknown(Exception):
    """No registered message for this ce_type (unknown type or unsupported major version)."""


@functools.cache
def _registry() -> dict[str, type[Message]]:
    from meridian.contracts import ALL_MODULES

    found: dict[str, type[Message]] = {}
    for module in ALL_MODULES:
        for desc in module.DESCRIPTOR.message_types_by_name.values():
            found[desc.full_name] = getattr(module, desc.name)
    return found


def message_class(event_type: str) -> type[Message]:
    try:
        return _registry()[event_type]
    except KeyError:
        raise EventTypeUnknown(f"unknown event type {event_type!r}") from None


def topic_of(message: Message | type[Message]) -> str:
    """``ticket/messages_v1.proto`` → ``ticket.messages.v1``."""
    return _topic_of_file(message.DESCRIPTOR.file.name)


@functools.cache  # one per proto file; asked for every event emitted
def _topic_of_file(file_name: str) -> str:
    owner, _, stream = file_name.removesuffix(".proto").rpartition("/")
    name, _, version = stream.rpartition("_")
    return f"{owner.replace('/', '.')}.{name}.{version}"


def audit_topic(service: str) -> str:
    return f"{service.replace('-', '_')}.audit.v1"
