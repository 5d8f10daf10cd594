"""The audit log's per-tenant hash chain.

Each stored record links to the tenant's previous one::

    hash = sha256(prev_hash || canonical_json(record))

``canonical_json`` is UTF-8 JSON with sorted keys, no whitespace, timestamps as UTC ISO 8601 with
microseconds and ``Z``, ids as lowercase hyphenated UUIDs. The first record of a tenant links to
``GENESIS`` (32 zero bytes). Changing, removing or reordering any record breaks the chain at that
point, which ``ChainVerifier`` reports as the first broken ``seq``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

GENESIS = bytes(32)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: UUID                 # the AuditRecorded event's id (ce_id)
    tenant_id: UUID
    occurred_at: datetime
    recorded_at: datetime
    service: str
    actor_type: str
    actor_id: str
    action: str
    resource_type: str
    resource_id: str
    details: Mapping[str, str] = field(default_factory=dict)


def _timestamp(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(record: AuditRecord) -> bytes:
    doc = {
        "id": str(record.id),
        "tenant_id": str(record.tenant_id),
        "occurred_at": _timestamp(record.occurred_at),
        "recorded_at": _timestamp(record.recorded_at),
        "service": record.service,
        "actor_type": record.actor_type,
        "actor_id": record.actor_id,
        "action": record.action,
        "resource_type": record.resource_type,
        "resource_id": record.resource_id,
        "details": {str(k): str(v) for k, v in record.details.items()},
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def link_hash(prev_hash: bytes, record: AuditRecord) -> bytes:
    return hashlib.sha256(prev_hash + canonical_json(record)).digest()


def extend_chains(heads: Mapping[UUID, bytes], records: Iterable[AuditRecord]
                  ) -> list[tuple[AuditRecord, bytes, bytes]]:
    """Link ``records`` (in the given order) onto their tenants' chains, whose current last hashes
    are ``heads`` (a tenant without one starts at ``GENESIS``). Returns ``(record, prev_hash, hash)``
    in the same order: stored in that order, they continue each tenant's chain exactly as appending
    them one at a time would."""
    tips: dict[UUID, bytes] = dict(heads)
    links: list[tuple[AuditRecord, bytes, bytes]] = []
    for record in records:
        prev = tips.get(record.tenant_id, GENESIS)
        hash_ = link_hash(prev, record)
        links.append((record, prev, hash_))
        tips[record.tenant_id] = hash_
    return links


@dataclass(frozen=True, slots=True)
class ChainLink:
    seq: int
    record: AuditRecord
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True, slots=True)
class VerifyResult:
    valid: bool
    checked: int
    first_broken_seq: int | None


class ChainVerifier:
    """Walks one tenant's links in ``seq`` order (fed in chunks); a link is broken when its
    ``prev_hash`` is not the previous link's hash or its hash is not the recomputed one."""

    def __init__(self) -> None:
        self._expected_prev = GENESIS
        self.checked = 0
        self.first_broken_seq: int | None = None

    def feed(self, link: ChainLink) -> None:
        self.checked += 1
        ok = link.prev_hash == self._expected_prev and link.hash == link_hash(link.prev_hash, link.record)
        if not ok and self.first_broken_seq is None:
            self.first_broken_seq = link.seq
        self._expected_prev = link.hash

    def result(self) -> VerifyResult:
        return VerifyResult(valid=self.first_broken_seq is None, checked=self.checked,
                            first_broken_seq=self.first_broken_seq)


def verify_chain(links: list[ChainLink]) -> VerifyResult:
    verifier = ChainVerifier()
    for link in links:
        verifier.feed(link)
    return verifier.result()
