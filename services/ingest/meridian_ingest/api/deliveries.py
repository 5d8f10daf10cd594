"""/api/v1/deliveries: outbound delivery attempts, for operators."""

from __future__ import annotations

from fastapi import APIRouter, Query
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_ingest.api.schemas import DeliveryList, DeliveryRead
from meridian_ingest.domain.model import Delivery, DeliveryStatus
from meridian_ingest.handlers import list_deliveries

router = APIRouter(tags=["deliveries"])


def read(d: Delivery) -> DeliveryRead:
    return DeliveryRead(id=d.id, message_id=d.message_id, conversation_id=d.conversation_id, inbox_id=d.inbox_id,
                        channel=d.channel, recipient_id=d.recipient_id, status=d.status.value, attempts=d.attempts,
                        error=d.last_error,
                        next_attempt_at=d.next_attempt_at if d.status is DeliveryStatus.PENDING else None,
                        created_at=d.created_at, updated_at=d.updated_at, delivered_at=d.delivered_at)


@router.get("/deliveries", response_model=DeliveryList)
async def list_(tenant: TenantDep, svc: ServiceDep, message_id: str | None = None, cursor: str | None = None,
                limit: int | None = Query(None)) -> DeliveryList:
    result = await svc.read(list_deliveries, tenant.id, message_id, cursor, limit)
    return DeliveryList(items=[read(d) for d in result["items"]], next_cursor=result["next_cursor"])
