"""Proto → domain."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from meridian.contracts.audit import records_v1_pb2 as audit_v1
from meridian.events.envelope import EventMeta

from meridian_compliance.domain.chain import AuditRecord
from meridian_compliance.domain.errors import AuditRecordInvalid

FIELD_MAX = 1_000


def _text(value: str, name: str) -> str:
    if len(value) > FIELD_MAX:
        raise AuditRecordInvalid(f"{name} is longer than {FIELD_MAX} characters")
    return value


def audit_record(message: audit_v1.AuditRecorded, meta: EventMeta, *, recorded_at: datetime) -> AuditRecord:
    """The record to chain; the tenant comes from the envelope (``ce_tenant``), the occurrence time
    from the message (else the envelope), the service from the message (else ``ce_source``)."""
    try:
        tenant_id = UUID(meta.tenant_id)
    except ValueError:
        raise AuditRecordInvalid(f"ce_tenant {meta.tenant_id!r} is not a UUID") from None
    if message.HasField("occurred_at"):
        occurred_at = message.occurred_at.ToDatetime(tzinfo=UTC)
    else:
        occurred_at = meta.occurred_at if meta.occurred_at.tzinfo else meta.occurred_at.replace(tzinfo=UTC)
    return AuditRecord(
        id=meta.id, tenant_id=tenant_id, occurred_at=occurred_at, recorded_at=recorded_at,
        service=_text(message.service or meta.source, "service"),
        actor_type=_text(message.actor_type, "actor_type"), actor_id=_text(message.actor_id, "actor_id"),
        action=_text(message.action, "action"), resource_type=_text(message.resource_type, "resource_type"),
        resource_id=_text(message.resource_id, "resource_id"),
        details={k: v for k, v in sorted(message.details.items())},
    )
