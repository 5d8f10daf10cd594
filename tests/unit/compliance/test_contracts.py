"""AuditRecorded + envelope → AuditRecord."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from meridian.contracts.audit import records_v1_pb2 as audit_v1
from meridian.events.envelope import new_meta
from meridian_compliance.contracts import audit_record
from meridian_compliance.domain.errors import AuditRecordInvalid

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_record_from_message_and_envelope() -> None:
    tenant = uuid.uuid4()
    msg = audit_v1.AuditRecorded(actor_type="user", actor_id="a1", action="inbox.created", resource_type="inbox",
                                 resource_id="i1", details={"channel": "api"}, service="ingest")
    msg.occurred_at.FromDatetime(datetime(2024, 12, 31, 23, 59, tzinfo=UTC))
    meta = new_meta(msg, tenant_id=str(tenant), source="ingest", key="i1")
    r = audit_record(msg, meta, recorded_at=NOW)
    assert r.id == meta.id and r.tenant_id == tenant and r.service == "ingest"
    assert r.occurred_at == datetime(2024, 12, 31, 23, 59, tzinfo=UTC) and r.recorded_at == NOW
    assert dict(r.details) == {"channel": "api"}


def test_missing_service_and_time_come_from_the_envelope() -> None:
    msg = audit_v1.AuditRecorded(action="x")
    meta = new_meta(msg, tenant_id=str(uuid.uuid4()), source="routing", key="k")
    r = audit_record(msg, meta, recorded_at=NOW)
    assert r.service == "routing" and r.occurred_at == meta.occurred_at


def test_tenant_must_be_a_uuid() -> None:
    msg = audit_v1.AuditRecorded(action="x")
    meta = new_meta(msg, tenant_id="not-a-tenant", source="ticket", key="k")
    with pytest.raises(AuditRecordInvalid):
        audit_record(msg, meta, recorded_at=NOW)
