"""/api/v1/queue: conversations waiting for an agent, longest waiting first."""

from __future__ import annotations

from fastapi import APIRouter, Query
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_routing.api.schemas import QueueItemRead, QueueList
from meridian_routing.handlers import list_queue

router = APIRouter(tags=["queue"])


@router.get("/queue", response_model=QueueList)
async def list_(tenant: TenantDep, svc: ServiceDep, cursor: str | None = None,
                limit: int | None = Query(None)) -> QueueList:
    result = await svc.read(list_queue, tenant.id, cursor, limit)
    return QueueList(items=[QueueItemRead(conversation_id=i.conversation_id, language=i.language,
                                          queued_at=i.queued_at) for i in result["items"]],
                     next_cursor=result["next_cursor"])
