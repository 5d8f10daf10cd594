"""The audit hash chain: canonical JSON, linking, tamper detection."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from meridian_compliance.domain.chain import (
    GENESIS,
    AuditRecord,
    ChainLink,
    canonical_json,
    extend_chains,
    link_hash,
    verify_chain,
)

TENANT = uuid.UUID("00000000-0000-0000-0000-0000000000aa")
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def record(n: int = 0, **over) -> AuditRecord:  # noqa: ANN003
    fields = dict(id=uuid.UUID(int=n + 1), tenant_id=TENANT, occurred_at=T0 + timedelta(seconds=n),
                  recorded_at=T0 + timedelta(seconds=n, milliseconds=5), service="ticket", actor_type="user",
                  actor_id="agent-1", action="ticket.assigned", resource_type="ticket", resource_id=f"t-{n}",
                  details={"b": "2", "a": "1"})
    return AuditRecord(**{**fields, **over})


def chain(records: list[AuditRecord]) -> list[ChainLink]:
    links, prev = [], GENESIS
    for i, r in enumerate(records, start=1):
        h = link_hash(prev, r)
        links.append(ChainLink(seq=i * 10, record=r, prev_hash=prev, hash=h))
        prev = h
    return links


def test_canonical_json_is_deterministic_and_sorted() -> None:
    a = canonical_json(record(details={"b": "2", "a": "1"}))
    b = canonical_json(record(details={"a": "1", "b": "2"}))
    assert a == b
    text = a.decode()
    assert " " not in text.replace("ticket.assigned", "")
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert doc["occurred_at"] == "2025-03-01T12:00:00.123456Z"
    assert doc["id"] == "00000000-0000-0000-0000-000000000001"
    assert list(doc["details"]) == ["a", "b"]


def test_canonical_json_normalises_time_zones_and_keeps_unicode() -> None:
    plus2 = timezone(timedelta(hours=2))
    same_instant = record(occurred_at=T0.astimezone(plus2))
    assert canonical_json(same_instant) == canonical_json(record())
    assert "退货".encode() in canonical_json(record(details={"reason": "退货"}))


def test_link_hash_is_sha256_of_prev_and_canonical_json() -> None:
    r = record()
    assert link_hash(GENESIS, r) == hashlib.sha256(bytes(32) + canonical_json(r)).digest()
    assert link_hash(GENESIS, r) != link_hash(b"\x01" * 32, r)
    assert len(link_hash(GENESIS, r)) == 32


def test_every_field_is_covered_by_the_hash() -> None:
    base = link_hash(GENESIS, record())
    for change in ({"id": uuid.uuid4()}, {"tenant_id": uuid.uuid4()}, {"occurred_at": T0 + timedelta(microseconds=1)},
                   {"recorded_at": T0}, {"service": "routing"}, {"actor_type": "system"}, {"actor_id": "x"},
                   {"action": "ticket.closed"}, {"resource_type": "conversation"}, {"resource_id": "other"},
                   {"details": {"a": "1"}}):
        assert link_hash(GENESIS, record(**change)) != base, change


def test_intact_chain_verifies() -> None:
    result = verify_chain(chain([record(i) for i in range(5)]))
    assert result.valid and result.checked == 5 and result.first_broken_seq is None


def test_empty_chain_is_valid() -> None:
    result = verify_chain([])
    assert result.valid and result.checked == 0


def test_tampered_field_is_reported_at_its_seq() -> None:
    links = chain([record(i) for i in range(5)])
    links[2] = replace(links[2], record=replace(links[2].record, action="ticket.deleted"))
    result = verify_chain(links)
    assert not result.valid and result.first_broken_seq == 30 and result.checked == 5


def test_rehashed_tampering_breaks_the_next_link() -> None:
    links = chain([record(i) for i in range(4)])
    forged = replace(links[1].record, actor_id="someone-else")
    links[1] = replace(links[1], record=forged, hash=link_hash(links[1].prev_hash, forged))
    assert verify_chain(links).first_broken_seq == 30


def test_removed_or_reordered_links_are_detected() -> None:
    links = chain([record(i) for i in range(4)])
    assert verify_chain(links[:1] + links[2:]).first_broken_seq == 30
    assert verify_chain([links[1], links[0], *links[2:]]).first_broken_seq == 20
    assert verify_chain(links[1:]).first_broken_seq == 20   # the first link must start at GENESIS


def test_extend_chains_continues_each_tenant_in_order() -> None:
    other = uuid.UUID("00000000-0000-0000-0000-0000000000bb")
    head = b"\x07" * 32
    records = [record(0), record(1, tenant_id=other), record(2), record(3, tenant_id=other), record(4)]
    links = extend_chains({TENANT: head}, records)
    assert [r for r, _, _ in links] == records
    # the same as appending one at a time: TENANT continues from its head, the new tenant from GENESIS
    expected, tips = [], {TENANT: head, other: GENESIS}
    for r in records:
        prev = tips[r.tenant_id]
        tips[r.tenant_id] = link_hash(prev, r)
        expected.append((r, prev, tips[r.tenant_id]))
    assert links == expected
    assert links[1][1] == GENESIS and links[0][1] == head
    mine = [ChainLink(seq=i, record=r, prev_hash=p, hash=h) for i, (r, p, h) in enumerate(links, 1)
            if r.tenant_id == other]
    assert verify_chain(mine).valid


def test_extend_chains_of_nothing() -> None:
    assert extend_chains({TENANT: b"\x01" * 32}, []) == []
