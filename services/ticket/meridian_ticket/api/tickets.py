"""/api/v1/tickets."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_ticket.api.schemas import TicketList, TicketRead, TicketStatusIn
from meridian_ticket.handlers import get_ticket, list_tickets

router = APIRouter(tags=["tickets"])


@router.get("/tickets", response_model=TicketList)
async def list_(tenant: TenantDep, svc: ServiceDep, status: TicketStatusIn | None = None,
                assignee_agent_id: UUID | None = None, cursor: str | None = None,
                limit: int | None = Query(None)) -> TicketList:
    """Newest first."""
    result = await svc.read(list_tickets, tenant.id, status=status, assignee_agent_id=assignee_agent_id,
                            cursor=cursor, limit=limit)
    return TicketList(items=[TicketRead.of(t) for t in result["items"]], next_cursor=result["next_cursor"])


@router.get("/tickets/{ticket_id}", response_model=TicketRead)
async def get(ticket_id: UUID, tenant: TenantDep, svc: ServiceDep) -> TicketRead:
    return TicketRead.of(await svc.read(get_ticket, tenant.id, ticket_id))
