"""Compliance's event handlers and queries (no commits here: the runner commits)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime
from uuid import UUID

from meridian.contracts.audit import records_v1_pb2 as audit_v1
from meridian.events.envelope import EventMeta
from meridian.http.pagination import InvalidCursor, clamp_limit

from meridian_compliance import contracts
from meridian_compliance.domain.chain import ChainLink, ChainVerifier, VerifyResult
from meridian_compliance.domain.errors import AuditQueryInvalid
from meridian_compliance.repository import AuditFilter
from meridian_compliance.uow import ComplianceUow

log = logging.getLogger("meridian.compliance")

VERIFY_CHUNK = 2_000


async def on_audit_recorded(message: audit_v1.AuditRecorded, meta: EventMeta, uow: ComplianceUow) -> None:
    """Stage the record for its tenant's chain; the unit of work appends a whole batch at commit
    (``ComplianceUow.flush_audit``). The tenants' advisory locks are taken there and held until
    commit, so concurrent batches never read the same chain head (no fork); a stored event id is
    skipped."""
    uow.stage_audit(contracts.audit_record(message, meta, recorded_at=uow.clock.now()))


def encode_seq_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"seq": seq}).encode()).decode().rstrip("=")


def decode_seq_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        seq = json.loads(raw)["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise TypeError("seq")
        return seq
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidCursor("cursor is not one this API issued") from exc


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


async def list_audit_events(uow: ComplianceUow, tenant_id: UUID, flt: AuditFilter, cursor: str | None,
                            limit: int | None) -> dict:
    n = clamp_limit(limit)
    since, until = _utc(flt.since), _utc(flt.until)
    if since and until and since >= until:
        raise AuditQueryInvalid("since must be before until",
                                errors=[{"field": "since", "message": "must be before until"}])
    flt = AuditFilter(service=flt.service, resource_type=flt.resource_type, resource_id=flt.resource_id,
                      action=flt.action, since=since, until=until)
    items: list[ChainLink] = await uow.audit_events.list(tenant_id, flt, before_seq=decode_seq_cursor(cursor),
                                                         limit=n + 1)
    has_more = len(items) > n
    items = items[:n]
    return {"items": items, "next_cursor": encode_seq_cursor(items[-1].seq) if has_more and items else None}


async def verify_audit_chain(uow: ComplianceUow, tenant_id: UUID) -> VerifyResult:
    """Recompute the tenant's whole chain, in chunks of VERIFY_CHUNK links."""
    verifier = ChainVerifier()
    after = 0
    while True:
        links = await uow.audit_events.chain(tenant_id, after_seq=after, limit=VERIFY_CHUNK)
        for link in links:
            verifier.feed(link)
        if len(links) < VERIFY_CHUNK:
            break
        after = links[-1].seq
    result = verifier.result()
    if not result.valid:
        log.warning("audit chain broken", extra={"tenant_id": str(tenant_id), "seq": result.first_broken_seq})
    return result
