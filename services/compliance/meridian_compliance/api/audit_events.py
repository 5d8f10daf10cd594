"""/api/v1/audit-events."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_compliance.api.schemas import AuditEventList, AuditEventRead, ChainVerification
from meridian_compliance.domain.chain import ChainLink
from meridian_compliance.handlers import list_audit_events, verify_audit_chain
from meridian_compliance.repository import AuditFilter

router = APIRouter(tags=["audit"])


def read(link: ChainLink) -> AuditEventRead:
    r = link.record
    return AuditEventRead(id=r.id, seq=link.seq, occurred_at=r.occurred_at, recorded_at=r.recorded_at,
                          service=r.service, actor_type=r.actor_type, actor_id=r.actor_id, action=r.action,
                          resource_type=r.resource_type, resource_id=r.resource_id, details=dict(r.details),
                          hash=link.hash.hex(), prev_hash=link.prev_hash.hex())


@router.get("/audit-events", response_model=AuditEventList)
async def list_(tenant: TenantDep, svc: ServiceDep, service: str | None = None, resource_type: str | None = None,
                resource_id: str | None = None, action: str | None = None, since: datetime | None = None,
                until: datetime | None = None, cursor: str | None = None, limit: int | None = Query(None)
                ) -> AuditEventList:
    flt = AuditFilter(service=service, resource_type=resource_type, resource_id=resource_id, action=action,
                      since=since, until=until)
    result = await svc.read(list_audit_events, tenant.id, flt, cursor, limit)
    return AuditEventList(items=[read(i) for i in result["items"]], next_cursor=result["next_cursor"])


@router.get("/audit-events/verify", response_model=ChainVerification)
async def verify(tenant: TenantDep, svc: ServiceDep) -> ChainVerification:
    result = await svc.read(verify_audit_chain, tenant.id)
    return ChainVerification(valid=result.valid, checked=result.checked, first_broken_seq=result.first_broken_seq)
