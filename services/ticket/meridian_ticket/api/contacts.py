"""/api/v1/contacts."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query
from meridian.http.tenancy import TenantDep
from meridian.service import ServiceDep

from meridian_ticket.api.schemas import ContactList, ContactRead
from meridian_ticket.handlers import get_contact, list_contacts

router = APIRouter(tags=["contacts"])


@router.get("/contacts", response_model=ContactList)
async def list_(tenant: TenantDep, svc: ServiceDep, email: str | None = None, phone: str | None = None,
                cursor: str | None = None, limit: int | None = Query(None)) -> ContactList:
    result = await svc.read(list_contacts, tenant.id, email=email, phone=phone, cursor=cursor, limit=limit)
    return ContactList(items=[ContactRead.of(c) for c in result["items"]], next_cursor=result["next_cursor"])


@router.get("/contacts/{contact_id}", response_model=ContactRead)
async def get(contact_id: UUID, tenant: TenantDep, svc: ServiceDep) -> ContactRead:
    return ContactRead.of(await svc.read(get_contact, tenant.id, contact_id))
